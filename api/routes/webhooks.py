"""Webhook subscriptions (steering office): the province's platforms (LGSP, NDAP) and other
systems receive the changes they subscribe to, signed in the Standard Webhooks way, instead of
polling `GET /changes`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from api.deps import OfficeUser
from services import webhooks
from services.webhook_schemas import (
    WebhookAttemptsPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhooksPublic,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_ATTEMPTS = 500


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(
    payload: WebhookCreate,
    user: OfficeUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="Repeat a request with the same key and get the same subscription "
            "(and secret), never two",
        ),
    ] = None,
) -> WebhookCreated:
    """Subscribe a URL to events from now on. The answer holds the signing secret, shown this
    once. Each event is POSTed with the headers `webhook-id` (the same on every retry),
    `webhook-timestamp` and `webhook-signature`; its body is `{type, timestamp, data}` where
    `data` is the change feed's row with its `cursor`. A subscription's events arrive one at a
    time in the feed's order; a failed one is retried with backoff for a day, then the
    subscription pauses and the office is told. The URL must be https to a public address
    (422 otherwise)."""
    created, new = await webhooks.create_webhook(
        session, temporal, settings, payload, user.actor, idempotency_key
    )
    if not new:
        response.headers["Idempotent-Replayed"] = "true"
    return created


@router.get("")
async def list_webhooks(user: OfficeUser, session: SessionDep) -> WebhooksPublic:
    """The subscriptions, without their secrets."""
    return await webhooks.list_webhooks(session)


@router.get("/{subscription_id}")
async def get_webhook(subscription_id: int, user: OfficeUser, session: SessionDep) -> WebhookPublic:
    return await webhooks.read_webhook(session, subscription_id)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(
    subscription_id: int, user: OfficeUser, session: SessionDep, temporal: TemporalDep
) -> Response:
    """Stop the subscription; its delivery log stays."""
    await webhooks.delete_webhook(session, temporal, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{subscription_id}/resume")
async def resume_webhook(
    subscription_id: int,
    user: OfficeUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> WebhookPublic:
    """Deliver a paused subscription's events again, from the one that failed (409 when it is
    not paused)."""
    return await webhooks.resume_webhook(session, temporal, settings, subscription_id)


@router.get("/{subscription_id}/deliveries")
async def list_deliveries(
    subscription_id: int,
    user: OfficeUser,
    session: SessionDep,
    before: int | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ATTEMPTS)] = 100,
) -> WebhookAttemptsPublic:
    """Every attempt to deliver the subscription an event, newest first: the outcome, the
    receiver's status and how long it took."""
    return await webhooks.list_attempts(session, subscription_id, before, limit)
