"""The typed messages of message delivery. Standard library only: imported inside the
workflow sandbox, by activities and by the API alike. New fields go last with a default."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vocabulary.delivery import DeliveryPolicy, DeliveryState, SendStatus


@dataclass
class DeliveryInput:
    notification_key: str
    person_id: int
    kind: str
    # The person's channels that are configured here, in their order of preference.
    channels: list[str]
    policy: DeliveryPolicy
    task_queue: str
    # A delivery started again (its message was left in a digest that ended without it) goes
    # on from the sequence number of the state written before it.
    first_seq: int = 0


@dataclass
class DeliveryResult:
    state: DeliveryState
    channel: str = ""
    attempts: int = 0


@dataclass
class SendInput:
    """One attempt of one message (or one digest) on one channel."""

    notification_key: str
    channel: str
    person_id: int
    kind: str
    digest_items: list[str] = field(default_factory=list)
    daily_cap: int = 0
    utc_offset_minutes: int = 420
    # Written as sent (or unconfirmed) by the send itself, saving a round trip per message:
    # the messages whose state this send settles, the workflow's sequence for that write and
    # the attempts so far, this one included.
    state_keys: list[str] = field(default_factory=list)
    state_seq: int = 0
    attempts: int = 0
    # The workflow's time when it asked: the day the daily cap counts.
    at: datetime | None = None


@dataclass
class SendOutcome:
    status: SendStatus
    provider_message_id: str = ""
    detail: str = ""
    retry_after_seconds: float | None = None


@dataclass
class DeliveryStateInput:
    notification_keys: list[str]
    state: DeliveryState
    seq: int
    attempts: int = 0
    channel: str = ""
    detail: str = ""


@dataclass
class DeadLetterInput:
    notification_key: str
    reason: str
    # Raise an escalation notice to the steering office (not for such notices themselves).
    escalate: bool = True


@dataclass
class DigestItem:
    notification_key: str


@dataclass
class DigestInput:
    person_id: int
    digest_key: str
    send_at: datetime
    channels: list[str]
    policy: DeliveryPolicy


@dataclass
class JoinDigestInput:
    digest: DigestInput
    item: DigestItem
    task_queue: str


@dataclass
class JoinDigestResult:
    joined: bool
    # The digest the message joined: the night's, or a later round of it when the night's had
    # taken its items already.
    digest_key: str = ""


@dataclass
class DigestJoinAnswer:
    """A digest's answer to a message asking to join it: accepted, or too late (the digest has
    taken its items: it is sending, retrying or waiting for the daily cap)."""

    accepted: bool
