"""The delivery workflows' activities. A send goes through the outbox: once the message is
read and rendered, its unique (key, channel) row is claimed, the provider called and the row
settled, so each message goes out once on each channel. Beside it: where messages stand, dead
letters, and joining a digest."""

from __future__ import annotations

import asyncio
import hashlib
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.channels.base import Unavailable
from activities.delivery.alerts import record_channel_alert
from activities.delivery.dead_letters import keep_dead_letter
from activities.delivery.messages import compose_message
from activities.delivery.settings import DeliveryConfig
from activities.delivery.starts import start_deliveries
from activities.delivery.state import write_final_state, write_state
from db.models import OutboxEntry
from vocabulary.delivery import SendStatus, digest_workflow_id
from workflows import delivery_names
from workflows.delivery import DigestWorkflow
from workflows.delivery_types import (
    DeadLetterInput,
    DeliveryStateInput,
    DigestInput,
    JoinDigestInput,
    JoinDigestResult,
    SendInput,
    SendOutcome,
)

# A message that comes too late for its night's digest joins the next round of it; past this
# many rounds (a message that keeps missing them) it goes on its own when quiet hours end.
MAX_DIGEST_ROUNDS = 5
# What the server answers a message joining a digest that has ended.
DIGEST_ENDED = (RPCStatusCode.ALREADY_EXISTS, RPCStatusCode.NOT_FOUND)

# Channels whose provider deduplicates on our key (eSMS's RequestId): an attempt whose outcome
# was lost (a crash mid-send) may be sent again there; elsewhere it stays unconfirmed.
DEDUPLICATING_CHANNELS = frozenset({"sms"})


def outbox_idempotency_key(request: SendInput) -> str:
    """What the provider sees as the message's key (Message-ID, Idempotency-Key, RequestId):
    the same for every attempt of one message on one channel."""
    key = hashlib.sha256(f"{request.notification_key}|{request.channel}".encode()).hexdigest()
    return f"axis-{key[:40]}"


def digest_round_key(night_key: str, round_number: int) -> str:
    """The night's digest is round 1 (`digest:7:2026-12-04`); a later one carries its number
    (`digest:7:2026-12-04:2`)."""
    return night_key if round_number == 1 else f"{night_key}:{round_number}"


class DeliveryActivities:
    def __init__(self, engine: Engine, client: Client | None, config: DeliveryConfig) -> None:
        """`client` starts the office's notices and the digests; without one (driving the
        send activity alone) neither happens."""
        self._engine = engine
        self._client = client
        self._config = config
        # Breakdowns this process has told the office of: the next messages they stop skip
        # the database (the notices' keys make it once across processes anyway).
        self._alerted: set[str] = set()

    # ---- one send ---------------------------------------------------------------------------

    @activity.defn(name=delivery_names.SEND_MESSAGE)
    async def send_message(self, request: SendInput) -> SendOutcome:
        """Send one message (or digest) on one channel, once: the message is read and rendered
        first, then its outbox row is claimed, the provider called and the row settled; a
        second call finds the row and sends nothing again (an attempt whose outcome was lost
        stays unconfirmed). Between the claim and the provider call nothing can fail: a
        database or template error before it leaves nothing claimed, and the retry sends."""
        channel = self._config.channels.get(request.channel)
        if channel is None or not channel.configured:
            return SendOutcome(SendStatus.PERMANENT, detail=f"{request.channel} not configured")
        message = await asyncio.to_thread(
            compose_message,
            self._engine,
            self._config.renderer,
            self._config.public_url,
            request,
            outbox_idempotency_key(request),
        )
        claim = await asyncio.to_thread(self._claim, request)
        if isinstance(claim, SendOutcome):
            if claim.status in (SendStatus.ACCEPTED, SendStatus.AMBIGUOUS):
                await asyncio.to_thread(self._write_final_state, request, claim)
            return claim
        if claim != message.idempotency_key:
            message = replace(message, idempotency_key=claim)
        result = await channel.send(message)
        outcome = SendOutcome(
            status=SendStatus(result.outcome.value),
            provider_message_id=result.provider_message_id,
            detail=result.detail,
            retry_after_seconds=result.retry_after_seconds,
        )
        await asyncio.to_thread(self._settle, request, outcome)
        if result.unavailable is not None:
            try:
                await self._tell_office(request, result.unavailable)
            except Exception:
                # The send is settled and its outcome stands; the next message the breakdown
                # stops tells the office instead.
                activity.logger.exception("could not tell the office: %s", result.detail)
        return outcome

    async def _tell_office(self, request: SendInput, unavailable: Unavailable) -> None:
        """Tell the steering office, once a day for each breakdown, that the channel cannot
        send to anyone; the message itself goes on its next channel meanwhile."""
        zone = timezone(timedelta(minutes=request.utc_offset_minutes))
        day = (request.at or datetime.now(UTC)).astimezone(zone).date().isoformat()
        if f"{unavailable.cause_key}|{day}" in self._alerted:
            return
        stopped = request.digest_items[0] if request.digest_items else request.notification_key
        keys = await asyncio.to_thread(
            record_channel_alert,
            self._engine,
            self._config,
            request.channel,
            unavailable,
            day,
            stopped,
        )
        if keys and self._client is not None:
            await start_deliveries(self._client, self._config, keys, self._engine)
        self._alerted.add(f"{unavailable.cause_key}|{day}")

    def _claim(self, request: SendInput) -> SendOutcome | str:
        """The idempotency key to send with, or the outcome already known."""
        now = datetime.now(UTC)
        # The workflow's clock decides the day: a day waited out durably is a new day.
        zone = timezone(timedelta(minutes=request.utc_offset_minutes))
        day = (request.at or now).astimezone(zone).date().isoformat()
        with Session(self._engine) as session, session.begin():
            if request.daily_cap > 0 and self._capped(session, request, day):
                return SendOutcome(SendStatus.CAPPED, detail="daily cap reached")
            row = session.scalar(
                select(OutboxEntry)
                .where(
                    OutboxEntry.notification_key == request.notification_key,
                    OutboxEntry.channel == request.channel,
                )
                .with_for_update()
            )
            if row is None:
                idempotency_key = outbox_idempotency_key(request)
                session.add(
                    OutboxEntry(
                        notification_key=request.notification_key,
                        channel=request.channel,
                        person_id=request.person_id,
                        status="sending",
                        attempts=1,
                        idempotency_key=idempotency_key,
                        local_day=day,
                        updated_at=now,
                    )
                )
                return idempotency_key
            if row.status == "sent":
                return SendOutcome(SendStatus.ACCEPTED, row.provider_message_id or "")
            if row.status == "unconfirmed":
                return SendOutcome(SendStatus.AMBIGUOUS, detail=row.last_error)
            if row.status == "failed":
                return SendOutcome(SendStatus.PERMANENT, detail=row.last_error)
            if row.status == "sending" and request.channel not in DEDUPLICATING_CHANNELS:
                row.status = "unconfirmed"
                row.last_error = "an earlier attempt's outcome was lost"
                row.updated_at = now
                return SendOutcome(SendStatus.AMBIGUOUS, detail=row.last_error)
            row.status = "sending"
            row.attempts += 1
            row.updated_at = now
            return row.idempotency_key

    def _capped(self, session: Session, request: SendInput, day: str) -> bool:
        """Whether the person has had `daily_cap` messages on `day`."""
        already = session.scalar(
            select(OutboxEntry.id).where(
                OutboxEntry.notification_key == request.notification_key,
                OutboxEntry.channel == request.channel,
            )
        )
        if already is not None:
            return False
        # A send in flight counts too. Two claims at the same instant may both pass: the cap
        # is a limit against noise, not a guarantee to the message.
        sent = session.scalar(
            select(func.count(OutboxEntry.id)).where(
                OutboxEntry.person_id == request.person_id,
                OutboxEntry.local_day == day,
                OutboxEntry.status.in_(("sent", "sending")),
            )
        )
        return int(sent or 0) >= request.daily_cap

    def _settle(self, request: SendInput, result: SendOutcome) -> None:
        """The outbox row's outcome and, when final, the message's state: one transaction."""
        status = {
            SendStatus.ACCEPTED: "sent",
            SendStatus.AMBIGUOUS: "unconfirmed",
            SendStatus.PERMANENT: "failed",
            SendStatus.RETRY: "retry",
        }[result.status]
        now = datetime.now(UTC)
        with Session(self._engine) as session, session.begin():
            if result.status in (SendStatus.ACCEPTED, SendStatus.AMBIGUOUS):
                write_final_state(session, request, result, now)
            session.execute(
                update(OutboxEntry)
                .where(
                    OutboxEntry.notification_key == request.notification_key,
                    OutboxEntry.channel == request.channel,
                )
                .values(
                    status=status,
                    provider_message_id=result.provider_message_id or None,
                    last_error=result.detail[:500],
                    sent_at=now if status == "sent" else None,
                    updated_at=now,
                )
            )

    def _write_final_state(self, request: SendInput, result: SendOutcome) -> None:
        with Session(self._engine) as session, session.begin():
            write_final_state(session, request, result, datetime.now(UTC))

    # ---- state ------------------------------------------------------------------------------

    @activity.defn(name=delivery_names.SET_DELIVERY_STATE)
    def set_delivery_state(self, request: DeliveryStateInput) -> None:
        """Write where messages stand; a write older than the stored one changes nothing."""
        write_state(self._engine, request)

    @activity.defn(name=delivery_names.RECORD_DEAD_LETTER)
    async def record_dead_letter(self, request: DeadLetterInput) -> None:
        """Keep the undeliverable message and tell the steering office, once per key."""
        keys = await asyncio.to_thread(keep_dead_letter, self._engine, self._config, request)
        if keys and self._client is not None:
            await start_deliveries(self._client, self._config, keys, self._engine)

    # ---- digests ----------------------------------------------------------------------------

    @activity.defn(name=delivery_names.JOIN_DIGEST)
    async def join_digest(self, request: JoinDigestInput) -> JoinDigestResult:
        """Add one message to its person's digest of the night, starting the digest if it is
        the first. A digest that has taken its items (it is sending, retrying or waiting for
        the daily cap) or has ended answers too late: the message then joins the next round of
        that digest, started for it if need be, which goes out as soon as it is due. Called
        again (a retry), it finds the digest the message joined."""
        if self._client is None:
            return JoinDigestResult(joined=False)
        for round_number in range(1, MAX_DIGEST_ROUNDS + 1):
            digest = replace(
                request.digest, digest_key=digest_round_key(request.digest.digest_key, round_number)
            )
            if await self._join(self._client, digest, request):
                return JoinDigestResult(joined=True, digest_key=digest.digest_key)
        return JoinDigestResult(joined=False)

    @staticmethod
    async def _join(client: Client, digest: DigestInput, request: JoinDigestInput) -> bool:
        """Whether the message is in this digest now, asking it to take the message."""
        workflow_id = digest_workflow_id(digest.digest_key)
        start = WithStartWorkflowOperation(
            DigestWorkflow.run,
            digest,
            id=workflow_id,
            task_queue=request.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        try:
            answer = await client.execute_update_with_start_workflow(
                DigestWorkflow.join,
                request.item,
                start_workflow_operation=start,
                # The same message asking again gets the digest's first answer.
                id=f"join-{request.item.notification_key}",
            )
            return answer.accepted
        except (WorkflowAlreadyStartedError, RPCError) as error:
            if isinstance(error, RPCError) and error.status not in DIGEST_ENDED:
                raise
            with suppress(WorkflowAlreadyStartedError, RPCError):
                await start.workflow_handle()
        # The digest has ended: it sent the message if the message was among its items.
        try:
            items = await client.get_workflow_handle(workflow_id).query(DigestWorkflow.items)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return False  # past the server's retention: long gone, and not with this message
        return request.item.notification_key in items
