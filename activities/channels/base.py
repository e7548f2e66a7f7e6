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


class CodeClass(StrEnum):
    """What a provider's answer code means for the message, as its published table reads."""

    ACCEPTED = "accepted"
    # This message cannot go on this channel (the person's number, account or refusal): the
    # next channel.
    PERMANENT = "permanent"
    # The same channel later.
    TEMPORARY = "temporary"
    # The installation's account, keys, sender or template: alike for every message until
    # someone fixes it. The steering office is told, and the message goes on the next channel.
    CONFIGURATION = "configuration"


@dataclass(frozen=True)
class ProviderCode:
    """One row of a provider's table of answer codes."""

    meaning: str
    kind: CodeClass


@dataclass(frozen=True)
class Unavailable:
    """Why a channel cannot send for anyone until the installation is fixed (its token, keys,
    sender or template). `cause_key` is the same for one breakdown, so the steering office is
    told once whatever the number of messages it stops."""

    cause: str
    cause_key: str


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
    # Set when the failure is the installation's, not this message's: the office is told.
    unavailable: Unavailable | None = None


def by_class(kind: CodeClass, detail: str, cause_key: str) -> SendResult:
    """The outcome a classified refusal leads to (accepted codes are read by the adapter)."""
    if kind == CodeClass.TEMPORARY:
        return SendResult(Outcome.RETRY, detail=detail)
    if kind == CodeClass.CONFIGURATION:
        return SendResult(
            Outcome.PERMANENT, detail=detail, unavailable=Unavailable(detail, cause_key)
        )
    return SendResult(Outcome.PERMANENT, detail=detail)


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
