"""Recurring directives: the steering office creates, lists, pauses, resumes and deletes them;
each runs as a Temporal Schedule (`recurring-{id}`, every Monday 00:00 Asia/Ho_Chi_Minh) that
opens the week's period for every commune. A commune leader reports activities against their
own commune's open period; the period closes as met or missed at the end of the week.

A recurring directive and its schedule exist both or neither: the row is stored `pending`, the
schedule is made, then the row becomes `active`. When the workflow engine does not answer in
between, the request answers 503 and the row stays pending, never active without a schedule;
the same request repeated with its Idempotency-Key, or the reconciler (`make_missing_schedules`),
finishes it."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field, HttpUrl
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from db.communes import DAK_LAK
from db.models import Commune, ObligationPeriod, RecurringDirective, utcnow
from db.obligations import NoOpenPeriod, report_activity
from db.queries import in_communes
from services.errors import EngineUnavailable, Invalid, NotFound, Refused
from services.idempotency import find_replayed, fingerprint
from services.principals import Principal
from services.schemas import Request
from vocabulary.obligations import obligation_period_workflow_id, recurring_schedule_id
from workflows.obligation import ObligationPeriodWorkflow
from workflows.obligation_types import ObligationPeriodInput

# Every Monday at midnight in Vietnam: the week is the period.
WEEKLY_CRON = "0 0 * * 1"
TIME_ZONE = "Asia/Ho_Chi_Minh"
PENDING, ACTIVE, PAUSED, DELETED = "pending", "active", "paused", "deleted"
# A pending directive younger than this may still be in its own request's hands: the reconciler
# leaves it to that request (finishing it twice would be harmless, but would count twice).
PENDING_GRACE = timedelta(seconds=30)


class RecurringDirectiveCreate(Request):
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=20_000)
    required_activities: int = Field(default=2, ge=1, le=50)
    communes: list[str] | None = Field(default=None, max_length=5000)
    skip_holidays: bool = True


class RecurringDirectivePublic(BaseModel):
    id: int
    title: str
    required_activities: int
    communes: int
    skip_holidays: bool
    status: str
    schedule_id: str


class RecurringDirectivesPublic(BaseModel):
    data: list[RecurringDirectivePublic]
    count: int


class ActivityReport(Request):
    title: str = Field(min_length=1, max_length=500)
    date: date
    link: HttpUrl


class ObligationPeriodPublic(BaseModel):
    id: int
    recurring_id: int
    commune_code: str
    starts_at: datetime
    ends_at: datetime
    required: int
    reported: int
    status: str


def _public(r: RecurringDirective) -> RecurringDirectivePublic:
    return RecurringDirectivePublic(
        id=r.id, title=r.title, required_activities=r.required_count, communes=len(r.communes),
        skip_holidays=r.skip_holidays, status=r.status, schedule_id=recurring_schedule_id(r.id),
    )  # fmt: skip


def schedule_for(recurring_id: int, settings: Settings, paused: bool = False) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ObligationPeriodWorkflow.run,
            ObligationPeriodInput(recurring_id=recurring_id),
            id=obligation_period_workflow_id(recurring_id),
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[WEEKLY_CRON], time_zone_name=TIME_ZONE),
        # Last week's period closes at the moment this week's opens.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
        state=ScheduleState(note="recurring directive", paused=paused),
    )


async def _ensure_schedule(
    client: Client, recurring_id: int, settings: Settings, paused: bool = False
) -> None:
    try:
        await client.create_schedule(
            recurring_schedule_id(recurring_id), schedule_for(recurring_id, settings, paused)
        )
    except ScheduleAlreadyRunningError:
        # Created by an earlier attempt of the same request: there is one schedule per id.
        pass


async def _activate(
    session: AsyncSession, client: Client, settings: Settings, recurring: RecurringDirective
) -> None:
    """Make the schedule of a pending recurring directive, then mark it active. Safe to repeat
    and to run beside another attempt: one schedule per id, and only a pending row changes."""
    recurring_id = recurring.id
    try:
        await _ensure_schedule(client, recurring_id, settings)
    except RPCError as e:
        await session.rollback()
        raise EngineUnavailable(
            f"the recurring directive is stored as {recurring_id} but its weekly schedule could"
            f" not be made yet ({e.message}); it does not run until then: repeat the request"
            " with the same Idempotency-Key to finish it"
        ) from e
    await session.execute(
        update(RecurringDirective)
        .where(RecurringDirective.id == recurring_id, RecurringDirective.status == PENDING)
        .values(status=ACTIVE, updated_at=utcnow())
    )
    await session.commit()
    await session.refresh(recurring)


async def _get(session: AsyncSession, recurring_id: int) -> RecurringDirective:
    found = await session.get(RecurringDirective, recurring_id)
    if found is None or found.status == DELETED:
        raise NotFound(f"no recurring directive {recurring_id}")
    return found


async def create_recurring_directive(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    user: Principal,
    body: RecurringDirectiveCreate,
    idempotency_key: str | None = None,
) -> tuple[RecurringDirectivePublic, bool]:
    """A weekly obligation for every commune (or a list): a Temporal Schedule opens each
    week's period on Monday 00:00, Asia/Ho_Chi_Minh. With an idempotency key already used,
    the recurring directive it created (finished if it was left pending). Returns
    (recurring directive, created)."""
    recurring, created = await _store(session, user, body, idempotency_key)
    if recurring.status == PENDING:
        await _activate(session, client, settings, recurring)
    return _public(recurring), created


async def _store(
    session: AsyncSession,
    user: Principal,
    body: RecurringDirectiveCreate,
    idempotency_key: str | None,
) -> tuple[RecurringDirective, bool]:
    """The row, stored pending; or the one an earlier request with this key stored."""
    request_fingerprint = fingerprint(body)
    noun = "recurring directive"
    existing = await find_replayed(
        session, RecurringDirective, idempotency_key, request_fingerprint, noun
    )
    if existing is not None:
        return existing, False
    known = set(
        await session.scalars(select(Commune.code).where(Commune.province_code == str(DAK_LAK)))
    )
    communes = sorted(set(body.communes)) if body.communes is not None else sorted(known)
    unknown = [c for c in communes if c not in known]
    if unknown or not communes:
        raise Invalid(f"unknown communes: {', '.join(unknown[:10])}" if unknown else "no communes")
    recurring = RecurringDirective(
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint if idempotency_key else None,
        title=body.title, body=body.body, required_count=body.required_activities,
        communes=communes, skip_holidays=body.skip_holidays, status=PENDING,
        created_by=user.actor, created_at=utcnow(), updated_at=utcnow(),
    )  # fmt: skip
    session.add(recurring)
    try:
        await session.commit()
    except IntegrityError:
        # Another request with the same key won the race: answer with its recurring directive.
        await session.rollback()
        existing = await find_replayed(
            session, RecurringDirective, idempotency_key, request_fingerprint, noun
        )
        if existing is None:
            raise
        return existing, False
    return recurring, True


async def running_recurring_count(session: AsyncSession, only_pending: bool = False) -> int:
    """Recurring directives that should have a schedule: pending, active or paused (or the
    pending ones only)."""
    statuses = (PENDING,) if only_pending else (PENDING, ACTIVE, PAUSED)
    return int(
        await session.scalar(select(func.count()).where(RecurringDirective.status.in_(statuses)))
        or 0
    )


async def make_missing_schedules(
    session: AsyncSession, client: Client, settings: Settings, only_pending: bool = False
) -> dict[int, str]:
    """Every recurring directive that should run has its schedule: a pending one whose request
    did not finish (the engine did not answer, or the process died) gets it and becomes active
    (`completed`); an active or paused one whose schedule is missing gets it back, paused as it
    was (`recreated`). `only_pending` leaves the schedules of active and paused ones unasked
    (the API's frequent pass: one query, no call to the engine when nothing is pending).
    Returns {recurring id: what was done}; safe to repeat. An engine that stops answering
    stops the run (EngineUnavailable, RPCError): the next run finishes."""
    done: dict[int, str] = {}
    cutoff = utcnow() - PENDING_GRACE
    statuses = (PENDING,) if only_pending else (PENDING, ACTIVE, PAUSED)
    rows = (
        await session.execute(
            select(RecurringDirective.id, RecurringDirective.status, RecurringDirective.updated_at)
            .where(RecurringDirective.status.in_(statuses))
            .order_by(RecurringDirective.id)
        )
    ).all()
    # The connection goes back to the pool while the engine is asked, row by row.
    await session.commit()
    for recurring_id, status, updated_at in rows:
        if status == PENDING:
            pending = await session.get(RecurringDirective, recurring_id)
            if pending is not None and updated_at < cutoff:
                await _activate(session, client, settings, pending)
                done[recurring_id] = "completed"
            continue
        try:
            await client.get_schedule_handle(recurring_schedule_id(recurring_id)).describe()
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            await _ensure_schedule(client, recurring_id, settings, paused=status == PAUSED)
            done[recurring_id] = "recreated"
    return done


def count_repairs(done: dict[int, str]) -> dict[str, int]:
    """What `make_missing_schedules` did, by kind (both kinds present, 0 included)."""
    counts = Counter(done.values())
    return {kind: counts[kind] for kind in ("completed", "recreated")}


async def list_recurring_directives(session: AsyncSession) -> RecurringDirectivesPublic:
    rows = list(
        await session.scalars(
            select(RecurringDirective)
            .where(RecurringDirective.status != "deleted")
            .order_by(RecurringDirective.id)
        )
    )
    return RecurringDirectivesPublic(data=[_public(r) for r in rows], count=len(rows))


async def read_recurring_directive(
    session: AsyncSession, recurring_id: int
) -> RecurringDirectivePublic:
    return _public(await _get(session, recurring_id))


async def set_paused(
    session: AsyncSession, client: Client, recurring_id: int, paused: bool, actor: str
) -> RecurringDirectivePublic:
    """Paused: no new period opens until it is resumed; the period open now runs to its end."""
    recurring = await _get(session, recurring_id)
    if recurring.status == PENDING:
        raise Refused(
            f"recurring directive {recurring_id} is not running yet: its weekly schedule is not"
            " made; repeat its creation with the same Idempotency-Key"
        )
    handle = client.get_schedule_handle(recurring_schedule_id(recurring_id))
    if paused:
        await handle.pause(note=f"paused by {actor}")
    else:
        await handle.unpause(note=f"resumed by {actor}")
    recurring.status = PAUSED if paused else ACTIVE
    recurring.updated_at = utcnow()
    await session.commit()
    return _public(recurring)


async def delete_recurring_directive(
    session: AsyncSession, client: Client, recurring_id: int
) -> None:
    """The schedule is deleted; periods already closed stay on record for scoring."""
    recurring = await _get(session, recurring_id)
    try:
        await client.get_schedule_handle(recurring_schedule_id(recurring_id)).delete()
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
    recurring.status = DELETED
    recurring.updated_at = utcnow()
    await session.commit()


async def report_obligation_activity(
    session: AsyncSession, user: Principal, recurring_id: int, body: ActivityReport
) -> ObligationPeriodPublic:
    """A commune leader reports one activity (title, date, link) for their own commune's
    open period. Sending the same report again stores it once."""
    await _get(session, recurring_id)
    commune = user.commune_code or ""

    def record(s: object) -> ObligationPeriod:
        return report_activity(
            s,  # type: ignore[arg-type]
            recurring_id, commune, body.title, body.date, str(body.link), user.actor,
        )  # fmt: skip

    try:
        period = await session.run_sync(record)
    except NoOpenPeriod as e:
        raise Refused(str(e)) from e
    await session.commit()
    return _period_public(period)


def _period_public(p: ObligationPeriod) -> ObligationPeriodPublic:
    return ObligationPeriodPublic(
        id=p.id, recurring_id=p.recurring_id, commune_code=p.commune_code, starts_at=p.starts_at,
        ends_at=p.ends_at, required=p.required_count, reported=p.reported_count, status=p.status,
    )  # fmt: skip


async def list_obligation_periods(
    session: AsyncSession,
    user: Principal,
    recurring_id: int,
    commune_code: str | None,
    limit: int,
) -> list[ObligationPeriodPublic]:
    """Periods newest first, per commune (a leader: their own)."""
    await _get(session, recurring_id)
    query = select(ObligationPeriod).where(
        ObligationPeriod.recurring_id == recurring_id,
        *in_communes(ObligationPeriod.commune_code, user.communes_filter(commune_code)),
    )
    rows = await session.scalars(
        query.order_by(ObligationPeriod.starts_at.desc(), ObligationPeriod.commune_code).limit(
            limit
        )
    )
    return [_period_public(p) for p in rows]
