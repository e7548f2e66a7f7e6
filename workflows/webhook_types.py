"""What crosses the webhook subscription workflow's boundary: typed dataclasses the data
converter round-trips."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from vocabulary.webhooks import SubscriptionStatus


@dataclass
class WebhookPolicy:
    """How a subscription's deliveries retry: backoff from the first to the longest wait, the
    receiver's Retry-After when longer, and a pause when an event has failed for
    `give_up_after_seconds` (a day)."""

    first_retry_seconds: float = 5.0
    max_retry_seconds: float = 3600.0
    give_up_after_seconds: float = 86400.0
    # How long one wait for new events lasts before the workflow looks again.
    wait_seconds: float = 50.0


@dataclass
class SubscriptionInput:
    subscription_id: int
    # The last change-feed id handled: events after it are delivered.
    after: int
    policy: WebhookPolicy = field(default_factory=WebhookPolicy)


@dataclass
class NextEventsInput:
    subscription_id: int
    after: int
    limit: int
    wait_seconds: float


@dataclass
class NextEvents:
    # The feed ids of the events this subscription wants, oldest first.
    change_ids: list[int]
    # How far the feed was read: with no event, where to look from next time.
    read_through: int
    status: SubscriptionStatus


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    # Temporary: a 5xx, 429, other 4xx, a timeout, the connection refused. Retried.
    FAILED = "failed"
    # The URL may not be reached (its host now resolves inside the network) or the receiver
    # answered 410 Gone: the subscription pauses at once.
    REFUSED = "refused"
    # The subscription was deleted: nothing more is sent.
    GONE = "gone"


@dataclass
class DeliverEventInput:
    subscription_id: int
    change_id: int
    # 1, 2, … for this event: with the subscription and the event, the log's key.
    attempt: int


@dataclass
class DeliverEventResult:
    outcome: AttemptOutcome
    detail: str = ""
    retry_after_seconds: float | None = None


@dataclass
class PauseInput:
    subscription_id: int
    change_id: int
    reason: str
    # The event's attempt that gave up: each pause tells the office once.
    attempt: int
