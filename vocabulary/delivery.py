"""The words of message delivery: a message's states, a send's outcomes, the time policy and the
workflow ids. Standard library only. New fields go last with a default."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DeliveryState(StrEnum):
    QUEUED = "queued"
    WAITING_QUIET_HOURS = "waiting_quiet_hours"
    IN_DIGEST = "in_digest"
    RETRYING = "retrying"
    SENT = "sent"
    # Perhaps sent (no answer after sending): recorded, never sent again on that channel.
    UNCONFIRMED = "unconfirmed"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    # None of the person's channels is configured on this installation.
    NO_CHANNEL = "no_channel"
    # The person's daily cap is reached: the message goes the next day.
    HELD_DAILY_CAP = "held_daily_cap"


class SendStatus(StrEnum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    PERMANENT = "permanent"
    AMBIGUOUS = "ambiguous"
    # The person's daily cap is reached: try again the next day.
    CAPPED = "capped"


@dataclass
class DeliveryPolicy:
    """Time policy of delivery, settled from settings by the activity that starts it."""

    # Minutes after local midnight (Asia/Ho_Chi_Minh); None: no quiet hours.
    quiet_start_minutes: int | None = None
    quiet_end_minutes: int | None = None
    digest_kinds: list[str] = field(default_factory=list)
    # When the digest of a night goes out; None: when quiet hours end.
    digest_minutes: int | None = None
    daily_cap: int = 20
    # Vietnam keeps one offset all year.
    utc_offset_minutes: int = 420


def delivery_workflow_id(notification_key: str) -> str:
    return f"deliver-{notification_key}"


def digest_workflow_id(digest_key: str) -> str:
    return digest_key.replace(":", "-")
