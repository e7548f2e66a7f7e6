"""Request and response bodies of webhook subscriptions. Requests refuse unknown fields, as
every request of API v1 does."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from services.schemas import Request
from vocabulary.webhooks import ALL_EVENTS, EVENT_TYPES, SubscriptionStatus


def _events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e != ALL_EVENTS and e not in EVENT_TYPES]
    if unknown:
        raise ValueError(
            f"unknown events {unknown}: the events are {', '.join(EVENT_TYPES)}, or {ALL_EVENTS}"
        )
    if len(set(events)) != len(events):
        raise ValueError("an event is listed twice")
    return events


class WebhookCreate(Request):
    # Checked further by the service: https, and an address outside the network.
    url: str = Field(min_length=1, max_length=2000)
    events: Annotated[
        list[str],
        Field(min_length=1, max_length=len(EVENT_TYPES) + 1),
        AfterValidator(_events),
    ] = Field(description=f"Any of {', '.join(EVENT_TYPES)}, or {ALL_EVENTS!r} for all")
    description: str = Field(default="", max_length=500)


class WebhookPublic(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    status: SubscriptionStatus
    # Why deliveries are paused; empty while active.
    paused_reason: str
    # The cursor of the last event delivered: `GET /changes?after=` it gives what came since.
    delivered_through: str
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    # The Standard Webhooks signing secret ("whsec_…"), shown this once: keep it.
    secret: str


class WebhooksPublic(BaseModel):
    data: list[WebhookPublic]


class WebhookAttemptPublic(BaseModel):
    event_type: str
    # The event's cursor in the change feed; its webhook-id is "evt_" and the feed id.
    cursor: str
    webhook_id: str
    attempt: int
    # delivered, failed (retried later) or refused (the subscription paused at once).
    outcome: str
    status_code: int | None
    detail: str
    duration_ms: int
    at: datetime


class WebhookAttemptsPublic(BaseModel):
    data: list[WebhookAttemptPublic]
    # Ask again with `before` set to this for older attempts; null when there are none.
    next_before: int | None
