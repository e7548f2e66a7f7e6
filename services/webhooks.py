"""Webhook subscriptions: other systems told of the province's changes as they happen instead of
polling the change feed. The steering office subscribes a URL to some events and gets the
signing secret once; each subscription's workflow delivers its events in the feed's order (see
`workflows.webhooks`)."""

from __future__ import annotations

import base64
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from activities.channels.webhook import SECRET_PREFIX, UnsafeUrl, check_url, parse_allowed_hosts
from config import Settings
from db.changes import encode_cursor, last_change_id
from db.models import WebhookAttempt, WebhookSubscription, utcnow
from services.errors import Conflict, EngineUnavailable, Invalid, NotFound
from services.idempotency import find_replayed, fingerprint
from services.webhook_schemas import (
    WebhookAttemptPublic,
    WebhookAttemptsPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhooksPublic,
)
from vocabulary.webhooks import (
    SubscriptionStatus,
    subscription_workflow_id,
    webhook_message_id,
    webhook_queue,
)
from workflows.webhook_types import SubscriptionInput, WebhookPolicy
from workflows.webhooks import WebhookSubscriptionWorkflow

SECRET_BYTES = 32


def webhook_public(row: WebhookSubscription) -> WebhookPublic:
    return WebhookPublic(
        id=row.id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        status=SubscriptionStatus(row.status),
        paused_reason=row.paused_reason,
        delivered_through=encode_cursor(row.delivered_through),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def webhook_policy(settings: Settings) -> WebhookPolicy:
    return WebhookPolicy(
        first_retry_seconds=settings.webhook_first_retry_seconds,
        max_retry_seconds=settings.webhook_max_retry_seconds,
        give_up_after_seconds=settings.webhook_give_up_hours * 3600,
    )


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def _start(
    client: Client, settings: Settings, row: WebhookSubscription, *, resume: bool = False
) -> None:
    """Start the subscription's workflow from where it stands; with `resume`, signal the running
    one to go on (or start a new run, when none runs)."""
    request = SubscriptionInput(row.id, row.delivered_through, webhook_policy(settings))
    try:
        if resume:
            await client.start_workflow(
                WebhookSubscriptionWorkflow.run,
                request,
                id=subscription_workflow_id(row.id),
                task_queue=webhook_queue(settings.task_queue),
                start_signal="resume",
            )
        else:
            await client.start_workflow(
                WebhookSubscriptionWorkflow.run,
                request,
                id=subscription_workflow_id(row.id),
                task_queue=webhook_queue(settings.task_queue),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
    except RPCError as e:
        raise EngineUnavailable(f"the subscription was not stored: {e.message}") from e


async def create_webhook(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    payload: WebhookCreate,
    actor: str,
    idempotency_key: str | None = None,
) -> tuple[WebhookCreated, bool]:
    """Subscribe `payload.url` to events from now on; with an Idempotency-Key already used for
    the same request, answer with the subscription it made (and its secret) instead. The URL
    must be https to a public address (or a host `AXIS_WEBHOOK_ALLOW_HOSTS` lists); it is
    checked again at every delivery. Returns (subscription, created)."""
    request_fingerprint = fingerprint(payload)
    existing = await find_replayed(
        session, WebhookSubscription, idempotency_key, request_fingerprint, "subscription"
    )
    if existing is not None:
        if existing.status != SubscriptionStatus.DELETED:
            # The first request may have stored it and lost the engine before the start.
            await _start(client, settings, existing)
        return _created(existing), False
    try:
        await check_url(payload.url, parse_allowed_hosts(settings.webhook_allow_hosts))
    except UnsafeUrl as e:
        raise Invalid(str(e)) from e
    secret = new_secret()
    now = utcnow()
    newest = await session.run_sync(last_change_id)
    row = WebhookSubscription(
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint if idempotency_key else None,
        url=payload.url,
        events=list(payload.events),
        description=payload.description,
        secret=secret,
        status=SubscriptionStatus.ACTIVE.value,
        paused_reason="",
        delivered_through=newest,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        # Another request with the same key won the race: answer with its subscription.
        await session.rollback()
        existing = await find_replayed(
            session, WebhookSubscription, idempotency_key, request_fingerprint, "subscription"
        )
        if existing is None:
            raise
        return _created(existing), False
    # Started before the commit: a commit that fails leaves a workflow that finds no
    # subscription and ends, never a subscription that nothing delivers.
    await _start(client, settings, row)
    await session.commit()
    return _created(row), True


def _created(row: WebhookSubscription) -> WebhookCreated:
    return WebhookCreated(**webhook_public(row).model_dump(), secret=row.secret)


async def _subscription(session: AsyncSession, subscription_id: int) -> WebhookSubscription:
    row = await session.get(WebhookSubscription, subscription_id)
    if row is None or row.status == SubscriptionStatus.DELETED:
        raise NotFound(f"webhook subscription {subscription_id} does not exist")
    return row


async def list_webhooks(session: AsyncSession) -> WebhooksPublic:
    rows = await session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.status != SubscriptionStatus.DELETED.value)
        .order_by(WebhookSubscription.id)
    )
    return WebhooksPublic(data=[webhook_public(r) for r in rows])


async def read_webhook(session: AsyncSession, subscription_id: int) -> WebhookPublic:
    return webhook_public(await _subscription(session, subscription_id))


async def delete_webhook(session: AsyncSession, client: Client, subscription_id: int) -> None:
    """Stop sending to the subscription. Its log stays; an attempt in flight is the last."""
    row = await _subscription(session, subscription_id)
    row.status = SubscriptionStatus.DELETED.value
    row.updated_at = utcnow()
    await session.commit()
    try:
        await client.get_workflow_handle(subscription_workflow_id(subscription_id)).terminate(
            "the subscription was deleted"
        )
    except RPCError:
        # Ended already; or the engine is away, and the workflow ends itself when it next
        # reads the subscription.
        pass


async def resume_webhook(
    session: AsyncSession, client: Client, settings: Settings, subscription_id: int
) -> WebhookPublic:
    """Deliver a paused subscription's events again, from the one that failed."""
    row = await _subscription(session, subscription_id)
    if row.status != SubscriptionStatus.PAUSED:
        raise Conflict(f"webhook subscription {subscription_id} is not paused")
    row.status = SubscriptionStatus.ACTIVE.value
    row.paused_reason = ""
    row.updated_at = utcnow()
    # Written before the signal and committed after it: a pause the workflow records at once
    # waits for this row and comes after it, and an engine that does not answer leaves the
    # subscription paused, to be resumed again.
    await session.flush()
    await _start(client, settings, row, resume=True)
    await session.commit()
    return webhook_public(row)


async def list_attempts(
    session: AsyncSession, subscription_id: int, before: int | None, limit: int
) -> WebhookAttemptsPublic:
    """The subscription's delivery attempts, newest first."""
    await _subscription(session, subscription_id)
    query = select(WebhookAttempt).where(WebhookAttempt.subscription_id == subscription_id)
    if before is not None:
        query = query.where(WebhookAttempt.id < before)
    rows = list(await session.scalars(query.order_by(WebhookAttempt.id.desc()).limit(limit)))
    return WebhookAttemptsPublic(
        data=[
            WebhookAttemptPublic(
                event_type=r.event_type,
                cursor=encode_cursor(r.change_id),
                webhook_id=webhook_message_id(r.change_id),
                attempt=r.attempt,
                outcome=r.outcome,
                status_code=r.status_code,
                detail=r.detail,
                duration_ms=r.duration_ms,
                at=r.at,
            )
            for r in rows
        ],
        next_before=rows[-1].id if len(rows) == limit else None,
    )
