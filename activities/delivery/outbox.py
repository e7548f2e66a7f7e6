"""Delivery's side effects: claim, send and record one message on one channel (exactly once,
through the outbox's unique (key, channel) row), write where a message stands, keep dead
letters, add a reminder to a person's digest, and start the delivery workflows of recorded
messages."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.channels.base import Channel, OutgoingMessage
from activities.channels.email import EmailChannel, SmtpSettings
from activities.channels.esms import EsmsChannel, EsmsSettings, callback_secrets, callback_url
from activities.channels.zns import ZnsChannel, ZnsSettings, parse_templates
from activities.links import resolve_link_keys
from activities.rendering import Renderer, local_time
from config import Settings
from db.models import (
    PROVINCE_SCOPE,
    Commune,
    DeadLetter,
    Delivery,
    Directive,
    Notification,
    OutboxEntry,
    Person,
    RosterEntry,
)
from db.upsert import insert_ignoring_duplicates
from vocabulary.delivery import (
    DeliveryPolicy,
    DeliveryState,
    SendStatus,
    delivery_workflow_id,
    digest_workflow_id,
)
from vocabulary.roles import Role
from workflows import delivery_names
from workflows.delivery import DeliveryWorkflow, DigestWorkflow
from workflows.delivery_types import (
    DeadLetterInput,
    DeliveryInput,
    DeliveryStateInput,
    JoinDigestInput,
    JoinDigestResult,
    SendInput,
    SendOutcome,
)

log = logging.getLogger("axis.delivery")
# Channels whose provider deduplicates on our key (eSMS's RequestId): an attempt whose outcome
# was lost (a crash mid-send) may be sent again there; elsewhere it stays unconfirmed.
DEDUPLICATING_CHANNELS = frozenset({"sms"})
MAX_CONCURRENT_STARTS = 64
# A message queued this long without its delivery workflow is started by the sweep.
STRANDED_AFTER = timedelta(minutes=2)
SWEEP_EVERY_SECONDS = 60
CASE_CHANNEL = "email"
QUIET_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def clock_minutes(value: str) -> int:
    hours, _, minutes = value.strip().partition(":")
    total = int(hours) * 60 + int(minutes or 0)
    if not 0 <= total < 24 * 60:
        raise ValueError(f"not a time of day: {value!r}")
    return total


def parse_quiet_hours(value: str) -> tuple[int | None, int | None]:
    """'21:00-07:00' → minutes after midnight of start and end; '' → no quiet hours."""
    if not value.strip():
        return None, None
    match = QUIET_HOURS.match(value)
    if match is None:
        raise ValueError(f"AXIS_QUIET_HOURS must look like 21:00-07:00, not {value!r}")
    h1, m1, h2, m2 = match.groups()
    return clock_minutes(f"{h1}:{m1}"), clock_minutes(f"{h2}:{m2}")


@dataclass
class DeliveryConfig:
    channels: dict[str, Channel]
    policy: DeliveryPolicy
    link_keys: list[str]
    link_grace: timedelta = timedelta(days=7)
    task_queue: str = ""
    renderer: Renderer = field(default_factory=Renderer)

    def usable_channels(self, preferred: str) -> list[str]:
        """The person's channels, in their order, that this installation can send on."""
        names = [c.strip() for c in preferred.split(",") if c.strip()]
        return [n for n in names if n in self.channels and self.channels[n].configured]

    def case_channels(self) -> list[str]:
        """A dossier's or feedback's message has no SMS or ZNS template: it goes by email,
        which every person on the roster has, whatever channels they prefer."""
        return self.usable_channels(CASE_CHANNEL)


DELIVERY_QUEUE_SUFFIX = "-delivery"


def delivery_queue(task_queue: str) -> str:
    """Messages go out from a task queue of their own, beside the product's."""
    return task_queue + DELIVERY_QUEUE_SUFFIX


def smtp_settings(settings: Settings) -> SmtpSettings:
    """The SMTP server every email goes through: the delivery outbox's and a setup link's."""
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
    )


def delivery_config(
    settings: Settings, task_queue: str | None = None, engine: Engine | None = None
) -> DeliveryConfig:
    """With `engine`, the ZNS tokens are shared by every worker through the database."""
    start, end = parse_quiet_hours(settings.quiet_hours)
    policy = DeliveryPolicy(
        quiet_start_minutes=start,
        quiet_end_minutes=end,
        digest_kinds=[k.strip() for k in settings.digest_kinds.split(",") if k.strip()],
        digest_minutes=clock_minutes(settings.digest_time) if settings.digest_time else None,
        daily_cap=settings.daily_cap,
    )
    channels: dict[str, Channel] = {
        "email": EmailChannel(smtp_settings(settings)),
        "sms": EsmsChannel(
            EsmsSettings(
                base_url=settings.esms_base_url,
                api_key=settings.esms_api_key,
                secret_key=settings.esms_secret_key,
                brandname=settings.esms_brandname,
                sandbox=settings.esms_sandbox,
                callback_url=callback_url(
                    settings.public_url,
                    callback_secrets(
                        settings.esms_callback_secret,
                        resolve_link_keys(settings.link_keys, settings.data_dir),
                    )[0],
                ),
            )
        ),
        "zalo": ZnsChannel(
            ZnsSettings(
                base_url=settings.zns_base_url,
                oauth_url=settings.zns_oauth_url,
                app_id=settings.zns_app_id,
                secret_key=settings.zns_secret_key,
                refresh_token=settings.zns_refresh_token,
                templates=parse_templates(settings.zns_templates),
                state_file=settings.data_dir / "zns-token.json",
            ),
            engine=engine,
        ),
    }
    return DeliveryConfig(
        channels=channels,
        policy=policy,
        link_keys=resolve_link_keys(settings.link_keys, settings.data_dir),
        link_grace=timedelta(days=settings.link_grace_days),
        task_queue=task_queue or settings.task_queue,
    )


async def start_deliveries(
    client: Client, config: DeliveryConfig, keys: list[str], engine: Engine
) -> int:
    """Start the delivery workflow of every queued message among `keys`. One id per key; a
    running one is joined and a finished one never started again, so calling this after a
    crash, or twice, sends nothing twice."""

    def queued() -> list[tuple[str, int, str, list[str]]]:
        with Session(engine) as session:
            return [
                (
                    key,
                    person_id or 0,
                    kind,
                    config.usable_channels(channels) if case_id is None else config.case_channels(),
                )
                for key, person_id, kind, channels, case_id in session.execute(
                    select(
                        Delivery.notification_key,
                        Delivery.person_id,
                        Notification.kind,
                        Person.channels,
                        Notification.case_id,
                    )
                    .join(Notification, Notification.idempotency_key == Delivery.notification_key)
                    .join(Person, Person.id == Delivery.person_id)
                    .where(
                        Delivery.notification_key.in_(keys),
                        Delivery.state == DeliveryState.QUEUED.value,
                        Delivery.seq == 0,
                    )
                )
            ]

    rows = await asyncio.to_thread(queued)
    gate = asyncio.Semaphore(MAX_CONCURRENT_STARTS)

    async def start(key: str, person_id: int, kind: str, channels: list[str]) -> None:
        async with gate:
            try:
                await client.start_workflow(
                    DeliveryWorkflow.run,
                    DeliveryInput(
                        notification_key=key,
                        person_id=person_id,
                        kind=kind,
                        channels=channels,
                        policy=config.policy,
                        task_queue=config.task_queue,
                    ),
                    id=delivery_workflow_id(key),
                    task_queue=config.task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            except WorkflowAlreadyStartedError:
                pass

    await asyncio.gather(*(start(*row) for row in rows))
    return len(rows)


def stranded_keys(engine: Engine, older_than: timedelta, limit: int = 1000) -> list[str]:
    """Messages still queued a while after they were recorded: their activity stopped between
    recording them and starting their delivery (and was never retried, e.g. a workflow
    terminated by hand)."""
    cutoff = datetime.now(UTC) - older_than
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Delivery.notification_key)
                .where(
                    Delivery.state == DeliveryState.QUEUED.value,
                    Delivery.seq == 0,
                    Delivery.updated_at < cutoff,
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
        )


async def sweep_stranded(client: Client, config: DeliveryConfig, engine: Engine) -> int:
    """Start the delivery of every stranded message; harmless for one already started."""
    keys = await asyncio.to_thread(stranded_keys, engine, STRANDED_AFTER)
    return await start_deliveries(client, config, keys, engine) if keys else 0


def delivery_rows(
    config: DeliveryConfig,
    messages: Iterable[tuple[str, Person | None, str]],
    by_email: bool = False,
) -> list[dict[str, Any]]:
    """The first state of each message: queued when one of its person's channels (with
    `by_email`, a case message's: email) can be used here, no_channel (a clear end, nothing
    retried) otherwise."""
    now = datetime.now(UTC)
    rows = []
    for key, person, link in messages:
        if person is None:
            continue
        usable = config.case_channels() if by_email else config.usable_channels(person.channels)
        wanted = CASE_CHANNEL if by_email else person.channels
        rows.append(
            {
                "notification_key": key,
                "person_id": person.id,
                "state": (DeliveryState.QUEUED if usable else DeliveryState.NO_CHANNEL).value,
                "attempts": 0,
                "channel": None,
                "detail": "" if usable else f"no configured channel among {wanted}",
                "link": link,
                "seq": 0,
                "updated_at": now,
            }
        )
    return rows


class DeliveryActivities:
    def __init__(self, engine: Engine, client: Client | None, config: DeliveryConfig) -> None:
        """`client` starts the office's notices and the digests; without one (driving the
        send activity alone) neither happens."""
        self._engine = engine
        self._client = client
        self._config = config

    # ---- one send ---------------------------------------------------------------------------

    @activity.defn(name=delivery_names.SEND_MESSAGE)
    async def send_message(self, request: SendInput) -> SendOutcome:
        """Send one message (or digest) on one channel, once: the outbox row is claimed before
        the provider is called and settled after; a second call finds it and sends nothing
        again (an attempt whose outcome was lost stays unconfirmed)."""
        channel = self._config.channels.get(request.channel)
        if channel is None or not channel.configured:
            return SendOutcome(SendStatus.PERMANENT, detail=f"{request.channel} not configured")
        claim = await asyncio.to_thread(self._claim, request)
        if isinstance(claim, SendOutcome):
            if claim.status in (SendStatus.ACCEPTED, SendStatus.AMBIGUOUS):
                await asyncio.to_thread(self._write_final_state, request, claim)
            return claim
        message = await asyncio.to_thread(self._message, request, claim)
        result = await channel.send(message)
        outcome = SendOutcome(
            status=SendStatus(result.outcome.value),
            provider_message_id=result.provider_message_id,
            detail=result.detail,
            retry_after_seconds=result.retry_after_seconds,
        )
        await asyncio.to_thread(self._settle, request, outcome)
        return outcome

    def _claim(self, request: SendInput) -> SendOutcome | str:
        """The idempotency key to send with, or the outcome already known."""
        key = hashlib.sha256(f"{request.notification_key}|{request.channel}".encode()).hexdigest()
        idempotency_key = f"axis-{key[:40]}"
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
                self._final_state(session, request, result, now)
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
            self._final_state(session, request, result, datetime.now(UTC))

    def _final_state(
        self, session: Session, request: SendInput, result: SendOutcome, now: datetime
    ) -> None:
        if not request.state_keys:
            return
        state = (
            DeliveryState.SENT
            if result.status == SendStatus.ACCEPTED
            else DeliveryState.UNCONFIRMED
        )
        session.execute(
            update(Delivery)
            .where(
                Delivery.notification_key.in_(request.state_keys),
                Delivery.seq < request.state_seq,
            )
            .values(
                state=state.value,
                attempts=request.attempts,
                channel=request.channel,
                detail=result.detail[:500],
                seq=request.state_seq,
                updated_at=now,
            )
        )

    def _message(self, request: SendInput, idempotency_key: str) -> OutgoingMessage:
        with Session(self._engine) as session:
            person = session.get(Person, request.person_id)
            assert person is not None  # deliveries reference their person
            if request.digest_items:
                return self._digest(session, request, person, idempotency_key)
            notification = session.scalar(
                select(Notification).where(Notification.idempotency_key == request.notification_key)
            )
            assert notification is not None  # a delivery starts from a recorded message
            delivery = session.scalar(
                select(Delivery).where(Delivery.notification_key == request.notification_key)
            )
            # A dossier's or feedback's message has no directive (and goes by email only).
            directive = (
                session.get(Directive, notification.directive_id)
                if notification.directive_id is not None
                else None
            )
            commune = session.get(Commune, notification.commune_code)
            link = delivery.link if delivery is not None and delivery.link else ""
            context = {
                "directive": {
                    "id": notification.directive_id,
                    "title": directive.title if directive else "",
                },
                "commune": {
                    "code": notification.commune_code,
                    "name": commune.name if commune else "",
                },
                "recipient": {"name": person.name},
                "deadline": directive.deadline if directive else None,
                "link": link,
            }
            subject, body = notification.subject, notification.body
            if request.channel != "email" and notification.directive_id is not None:
                text = self._config.renderer.render(
                    f"{notification.kind}", "sms", notification.language, context
                )
                body = text.body
            deadline = directive.deadline if directive else None
            return OutgoingMessage(
                idempotency_key=idempotency_key,
                kind=notification.kind,
                subject=subject,
                body=body,
                email=person.email,
                phone=person.phone or "",
                template_data={
                    "ten_can_bo": person.name[:100],
                    "don_vi": context["commune"]["name"][:100],  # type: ignore[index]
                    "tieu_de": (directive.title if directive else "")[:100],
                    "han_xu_ly": local_time(deadline, "vi")[-10:] if deadline else "",
                    "lien_ket": link,
                },
            )

    def _digest(
        self, session: Session, request: SendInput, person: Person, idempotency_key: str
    ) -> OutgoingMessage:
        found = session.execute(
            select(Notification, Delivery.link, Directive.title, Directive.deadline, Commune.name)
            .join(Delivery, Delivery.notification_key == Notification.idempotency_key)
            .join(Directive, Directive.id == Notification.directive_id)
            .join(Commune, Commune.code == Notification.commune_code)
            .where(Notification.idempotency_key.in_(request.digest_items))
            .order_by(Notification.id)
        ).all()
        items = [
            {
                "kind": n.kind,
                "subject": n.subject,
                "title": title,
                "deadline": deadline,
                "commune": commune,
                "link": link,
            }
            for n, link, title, deadline, commune in found
        ]
        channel = "email" if request.channel == "email" else "sms"
        text = self._config.renderer.render(
            "digest",
            channel,
            person.language,
            {"recipient": {"name": person.name}, "items": items, "count": len(items)},
        )
        return OutgoingMessage(
            idempotency_key=idempotency_key,
            kind="digest",
            subject=text.subject,
            body=text.body,
            email=person.email,
            phone=person.phone or "",
            template_data={"ten_can_bo": person.name[:100], "so_viec": str(len(items))},
        )

    # ---- state ------------------------------------------------------------------------------

    @activity.defn(name=delivery_names.SET_DELIVERY_STATE)
    def set_delivery_state(self, request: DeliveryStateInput) -> None:
        """Write where messages stand; a write older than the stored one changes nothing."""
        now = datetime.now(UTC)
        with Session(self._engine) as session, session.begin():
            missing = set(request.notification_keys) - set(
                session.scalars(
                    select(Delivery.notification_key).where(
                        Delivery.notification_key.in_(request.notification_keys)
                    )
                )
            )
            if missing:
                session.execute(
                    insert_ignoring_duplicates(
                        Delivery.__table__,  # type: ignore[arg-type]
                        self._engine.dialect.name,
                        [
                            {
                                "notification_key": key,
                                "person_id": None,
                                "state": DeliveryState.QUEUED.value,
                                "attempts": 0,
                                "channel": None,
                                "detail": "",
                                "link": "",
                                "seq": 0,
                                "updated_at": now,
                            }
                            for key in sorted(missing)
                        ],
                    )
                )
            session.execute(
                update(Delivery)
                .where(
                    Delivery.notification_key.in_(request.notification_keys),
                    Delivery.seq < request.seq,
                )
                .values(
                    state=request.state.value,
                    attempts=request.attempts,
                    channel=request.channel or None,
                    detail=request.detail[:500],
                    seq=request.seq,
                    updated_at=now,
                )
            )

    @activity.defn(name=delivery_names.RECORD_DEAD_LETTER)
    async def record_dead_letter(self, request: DeadLetterInput) -> None:
        """Keep the undeliverable message and tell the steering office, once per key."""
        keys = await asyncio.to_thread(self._dead_letter, request)
        if keys and self._client is not None:
            await start_deliveries(self._client, self._config, keys, self._engine)

    def _dead_letter(self, request: DeadLetterInput) -> list[str]:
        with Session(self._engine) as session, session.begin():
            session.execute(
                insert_ignoring_duplicates(
                    DeadLetter.__table__,  # type: ignore[arg-type]
                    self._engine.dialect.name,
                    [
                        {
                            "notification_key": request.notification_key,
                            "reason": request.reason[:1000],
                            "created_at": datetime.now(UTC),
                        }
                    ],
                )
            )
            if not request.escalate:
                return []
            failed = session.scalar(
                select(Notification).where(Notification.idempotency_key == request.notification_key)
            )
            if failed is None:
                return []
            office = list(
                session.scalars(
                    select(Person)
                    .join(RosterEntry, RosterEntry.person_id == Person.id)
                    .where(
                        RosterEntry.role == Role.STEERING_OFFICE.value,
                        RosterEntry.scope == PROVINCE_SCOPE,
                    )
                    .order_by(Person.id)
                )
            )
            directive = (
                session.get(Directive, failed.directive_id)
                if failed.directive_id is not None
                else None
            )
            commune = session.get(Commune, failed.commune_code)
            step = hashlib.sha256(request.notification_key.encode()).hexdigest()[:16]
            rows: list[dict[str, Any]] = []
            deliveries: list[tuple[str, Person | None, str]] = []
            for person in office:
                key = (
                    f"notify:{failed.directive_id or failed.case_id}:{failed.commune_code}:"
                    "delivery_failed:"
                    f"{step}:{person.id}"
                )
                message = self._config.renderer.render(
                    "delivery_failed",
                    "email",
                    person.language,
                    {
                        "directive": {
                            "id": failed.directive_id,
                            "title": directive.title if directive else "",
                        },
                        "commune": {
                            "code": failed.commune_code,
                            "name": commune.name if commune else "",
                        },
                        "recipient": {"name": person.name},
                        "failed": {"subject": failed.subject, "to": failed.recipient},
                        "reason": request.reason,
                    },
                )
                first = person.channels.split(",")[0]
                rows.append(
                    {
                        "idempotency_key": key,
                        "directive_id": failed.directive_id,
                        "case_id": failed.case_id,
                        "commune_code": failed.commune_code,
                        "kind": "delivery_failed",
                        "step": step,
                        "person_id": person.id,
                        "recipient": person.email,
                        "recipient_role": Role.STEERING_OFFICE.value,
                        "channel": first,
                        "language": person.language,
                        "subject": message.subject[:500],
                        "body": message.body,
                        "status": "recorded",
                    }
                )
                deliveries.append((key, person, ""))
            if not rows:
                return []
            dialect = self._engine.dialect.name
            session.execute(
                insert_ignoring_duplicates(Notification.__table__, dialect, rows)  # type: ignore[arg-type]
            )
            session.execute(
                insert_ignoring_duplicates(
                    Delivery.__table__,  # type: ignore[arg-type]
                    dialect,
                    delivery_rows(self._config, deliveries),
                )
            )
            return [str(row["idempotency_key"]) for row in rows]

    # ---- digests ----------------------------------------------------------------------------

    @activity.defn(name=delivery_names.JOIN_DIGEST)
    async def join_digest(self, request: JoinDigestInput) -> JoinDigestResult:
        """Add one message to its person's digest of the night, starting the digest if it is
        the first; a digest already sent takes nothing more (the message goes on its own)."""
        if self._client is None:
            return JoinDigestResult(joined=False)
        try:
            await self._client.start_workflow(
                DigestWorkflow.run,
                request.digest,
                id=digest_workflow_id(request.digest.digest_key),
                task_queue=request.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                start_signal="add_item",
                start_signal_args=[request.item],
            )
        except WorkflowAlreadyStartedError:
            return JoinDigestResult(joined=False)
        return JoinDigestResult(joined=True)
