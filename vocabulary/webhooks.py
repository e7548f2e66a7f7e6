"""The events a webhook subscriber can ask for, and how a row of the change feed becomes one.
Standard library only: the API, the activities and the workflow share these words.

An event's name is part of the API's contract: a value never changes once published, and a
new event is a new member."""

from __future__ import annotations

from enum import StrEnum

# Every event, in the order the API documents them.
EVENT_TYPES = (
    "directive.issued",
    "directive.amended",
    "directive.recalled",
    "assignment.changed",
    "assignment.escalated",
    "score.snapshot",
    "dossier.changed",
    "feedback.changed",
)
# A subscription to "*" receives every event above, and any added later.
ALL_EVENTS = "*"
# The directive's own feed rows that are events; its other statuses (closed) are not.
DIRECTIVE_EVENTS = ("issued", "amended", "recalled")


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    # Deliveries failed for a day (or the URL may no longer be reached): nothing is sent until
    # the office resumes it, and then it goes on from the event that failed.
    PAUSED = "paused"
    DELETED = "deleted"


def event_type(entity: str, kind: str) -> str | None:
    """The event a change-feed row is, or None when it is no event (a directive closing)."""
    if entity == "directive":
        return f"directive.{kind}" if kind in DIRECTIVE_EVENTS else None
    if entity == "assignment":
        return "assignment.escalated" if kind == "escalated" else "assignment.changed"
    if entity == "score":
        return "score.snapshot"
    if entity in ("dossier", "feedback"):
        return f"{entity}.changed"
    return None


def subscribed_types(events: list[str]) -> frozenset[str]:
    """What a subscription's `events` stand for: "*" is every event."""
    return frozenset(EVENT_TYPES) if ALL_EVENTS in events else frozenset(events)


def webhook_queue(task_queue: str) -> str:
    """The subscriptions' task queue, beside the product's."""
    return task_queue + "-webhooks"


def subscription_workflow_id(subscription_id: int) -> str:
    return f"webhook-subscription-{subscription_id}"


def webhook_message_id(change_id: int) -> str:
    """The Standard Webhooks `webhook-id` of one event: the same on every attempt, so the
    receiver can tell a retry from a new event."""
    return f"evt_{change_id}"
