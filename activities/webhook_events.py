"""The activities of a webhook subscription: watching the change feed for its events, one
attempt to deliver one event (signed, to the address its URL was checked to, logged), and the
pause that tells the office. Each is idempotent: an attempt's log row is keyed by (subscription,
event, attempt), the receiver deduplicates on the event's webhook-id, and a pause's notices are
keyed by the attempt that paused it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client

from activities.channels.base import Outcome
from activities.channels.webhook import (
    AllowedHosts,
    Resolve,
    WebhookDelivery,
    post_webhook,
    resolve_host,
)
from activities.delivery import DeliveryConfig, start_deliveries
from activities.delivery.office_notices import NoticeOf, notify_office
from db.changes import encode_cursor, last_change_id, of_event_types
from db.models import Change, WebhookAttempt, WebhookSubscription, utcnow
from db.upsert import insert_ignoring_duplicates
from vocabulary.webhooks import (
    SubscriptionStatus,
    event_type,
    subscribed_types,
    webhook_message_id,
)
from workflows import activity_names
from workflows.webhook_types import (
    AttemptOutcome,
    DeliverEventInput,
    DeliverEventResult,
    NextEvents,
    NextEventsInput,
    PauseInput,
)

# How often the feed is looked at while a subscription waits: an event goes out within this.
WATCH_EVERY_SECONDS = 0.25
PAUSED_TEMPLATE = "webhook_paused"


def event_payload(change: Change, now: float) -> dict[str, Any]:
    """The Standard Webhooks body of one event: its type, when it was sent, and the change
    feed's row as `GET /changes` gives it, with its cursor."""
    return {
        "type": event_type(change.entity, change.kind),
        "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
        "data": {
            "cursor": encode_cursor(change.id),
            "entity": change.entity,
            "directive_id": change.directive_id,
            "commune_code": change.commune_code,
            "kind": change.kind,
            "detail": change.detail,
            "at": change.at.isoformat(),
        },
    }


class WebhookActivities:
    def __init__(
        self,
        engine: Engine,
        client: Client,
        delivery: DeliveryConfig,
        allowed: AllowedHosts,
        resolve: Resolve = resolve_host,
    ) -> None:
        self._engine = engine
        self._client = client
        self._delivery = delivery
        self._allowed = allowed
        self._resolve = resolve

    @activity.defn(name=activity_names.NEXT_WEBHOOK_EVENTS)
    async def next_webhook_events(self, request: NextEventsInput) -> NextEvents:
        """The subscription's next events after the cursor, as soon as there is one, or none
        after `wait_seconds`. Reads only: asking again gives the same answer."""
        loop = asyncio.get_running_loop()
        until = loop.time() + request.wait_seconds
        while True:
            found = await asyncio.to_thread(self._next, request)
            if found.change_ids or found.status == SubscriptionStatus.DELETED:
                return found
            if loop.time() >= until:
                return found
            activity.heartbeat()
            try:
                # A worker that stops does not wait for a watch: the next one takes it up.
                await asyncio.wait_for(activity.wait_for_worker_shutdown(), WATCH_EVERY_SECONDS)
                return found
            except TimeoutError:
                pass

    def _next(self, request: NextEventsInput) -> NextEvents:
        with Session(self._engine) as session:
            subscription = session.get(WebhookSubscription, request.subscription_id)
            if subscription is None or subscription.status == SubscriptionStatus.DELETED:
                return NextEvents([], request.after, SubscriptionStatus.DELETED)
            # Read first: a row committed after it waits for the next look, never skipped
            # (ids grow in commit order, db.changes).
            newest = last_change_id(session)
            ids = list(
                session.scalars(
                    select(Change.id)
                    .where(
                        Change.id > request.after,
                        Change.id <= newest,
                        of_event_types(subscribed_types(subscription.events)),
                    )
                    .order_by(Change.id)
                    .limit(request.limit)
                )
            )
            read_through = ids[-1] if len(ids) == request.limit else max(newest, request.after)
            return NextEvents(ids, read_through, SubscriptionStatus(subscription.status))

    @activity.defn(name=activity_names.DELIVER_WEBHOOK_EVENT)
    async def deliver_webhook_event(self, request: DeliverEventInput) -> DeliverEventResult:
        """POST one event once and log the attempt. Temporary failures are answered, not
        raised: the workflow owns the backoff."""
        found = await asyncio.to_thread(self._load, request)
        if found is None:
            return DeliverEventResult(AttemptOutcome.GONE)
        subscription, change = found
        now = time.time()
        started = time.monotonic()
        answer = await post_webhook(
            WebhookDelivery(
                subscription.url,
                subscription.secret,
                webhook_message_id(change.id),
                event_payload(change, now),
            ),
            now=now,
            allowed=self._allowed,
            resolve=self._resolve,
        )
        result = answer.result
        if result.outcome == Outcome.ACCEPTED:
            outcome = AttemptOutcome.DELIVERED
        elif answer.refused_url or answer.status_code == 410:
            outcome = AttemptOutcome.REFUSED
        else:
            # A receiver's 4xx is retried too: it is usually a deployment of theirs being fixed.
            outcome = AttemptOutcome.FAILED
        await asyncio.to_thread(
            self._log,
            request,
            change,
            outcome,
            answer.status_code,
            result.detail,
            round((time.monotonic() - started) * 1000),
        )
        return DeliverEventResult(outcome, result.detail, result.retry_after_seconds)

    def _load(self, request: DeliverEventInput) -> tuple[WebhookSubscription, Change] | None:
        with Session(self._engine, expire_on_commit=False) as session:
            subscription = session.get(WebhookSubscription, request.subscription_id)
            change = session.get(Change, request.change_id)
            if (
                subscription is None
                or change is None
                or subscription.status == SubscriptionStatus.DELETED
            ):
                return None
            return subscription, change

    def _log(
        self,
        request: DeliverEventInput,
        change: Change,
        outcome: AttemptOutcome,
        status_code: int | None,
        detail: str,
        duration_ms: int,
    ) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(
                insert_ignoring_duplicates(
                    WebhookAttempt.__table__,  # type: ignore[arg-type]
                    self._engine.dialect.name,
                    [
                        {
                            "subscription_id": request.subscription_id,
                            "change_id": change.id,
                            "event_type": event_type(change.entity, change.kind) or "",
                            "attempt": request.attempt,
                            "outcome": outcome.value,
                            "status_code": status_code,
                            "detail": detail[:2000],
                            "duration_ms": duration_ms,
                            "at": utcnow(),
                        }
                    ],
                )
            )
            if outcome == AttemptOutcome.DELIVERED:
                session.execute(
                    update(WebhookSubscription)
                    .where(
                        WebhookSubscription.id == request.subscription_id,
                        WebhookSubscription.delivered_through < change.id,
                    )
                    .values(delivered_through=change.id, updated_at=utcnow())
                )

    @activity.defn(name=activity_names.PAUSE_WEBHOOK_SUBSCRIPTION)
    async def pause_webhook_subscription(self, request: PauseInput) -> None:
        """Pause the subscription and tell the office once for this pause."""
        keys = await asyncio.to_thread(self._pause, request)
        await start_deliveries(self._client, self._delivery, keys, self._engine)

    def _pause(self, request: PauseInput) -> list[str]:
        with Session(self._engine) as session, session.begin():
            subscription = session.get(WebhookSubscription, request.subscription_id)
            if subscription is None or subscription.status == SubscriptionStatus.DELETED:
                return []
            subscription.status = SubscriptionStatus.PAUSED.value
            subscription.paused_reason = request.reason
            subscription.updated_at = utcnow()
            change = session.get(Change, request.change_id)
            step = f"webhook-{request.subscription_id}-paused-{request.change_id}-{request.attempt}"
            return notify_office(
                session,
                self._delivery,
                NoticeOf(PAUSED_TEMPLATE, PAUSED_TEMPLATE, step),
                lambda person: (
                    f"notify:webhook:{request.subscription_id}:paused:{request.attempt}:{person.id}"
                ),
                lambda person: {
                    "recipient": {"name": person.name},
                    "subscription": {
                        "id": subscription.id,
                        "url": subscription.url,
                        "description": subscription.description,
                    },
                    "event": event_type(change.entity, change.kind) if change else "",
                    "reason": request.reason,
                },
            )
