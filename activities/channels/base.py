"""What every channel adapter takes and answers: one message out, one outcome back."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    # Temporary: the same channel again later (SMTP 4xx, HTTP 429/5xx, a refused connection).
    RETRY = "retry"
    # Permanent for this message on this channel: the next channel is tried.
    PERMANENT = "permanent"
    # Sent, perhaps: a timeout after the request went out. Never resent on that channel.
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class OutgoingMessage:
    # The same on every attempt: Message-ID, Idempotency-Key, RequestId, webhook-id.
    idempotency_key: str
    kind: str
    subject: str
    body: str
    email: str = ""
    phone: str = ""
    template_data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str = ""
    detail: str = ""
    retry_after_seconds: float | None = None


class Channel(Protocol):
    name: str

    @property
    def configured(self) -> bool: ...

    async def send(self, message: OutgoingMessage) -> SendResult: ...


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare for these gateways and ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def local_phone(phone: str) -> str:
    """0912345678: the form Vietnamese SMS gateways take."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("84"):
        return "0" + digits[2:]
    return digits


def international_phone(phone: str) -> str:
    """84912345678: the form ZNS takes."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("0"):
        return "84" + digits[1:]
    return digits
