"""Recurring directives: the steering office creates, lists, pauses, resumes and deletes them;
each runs as a Temporal Schedule (`recurring-{id}`, every Monday 00:00 Asia/Ho_Chi_Minh) that
opens the week's period for every commune. A commune leader reports activities against their
own commune's open period; the period closes as met or missed at the end of the week."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, HttpUrl
from sqlalchemy import select
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
from services.errors import Invalid, NotFound, Refused
from services.principals import Principal
from services.schemas import Request
from vocabulary.obligations import obligation_period_workflow_id, recurring_schedule_id
from workflows.obligation import ObligationPeriodWorkflow
from workflows.obligation_types import ObligationPeriodInput

# Every Monday at midnight in Vietnam: the week is the period.
WEEKLY_CRON = "0 0 * * 1"
TIME_ZONE = "Asia/Ho_Chi_Minh"


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


def schedule_for(recurring_id: int, settings: Settings) -> Schedule:
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
        state=ScheduleState(note="recurring directive"),
    )


async def _ensure_schedule(client: Client, recurring_id: int, settings: Settings) -> None:
    try:
        await client.create_schedule(
            recurring_schedule_id(recurring_id), schedule_for(recurring_id, settings)
        )
    except ScheduleAlreadyRunningError:
        # Created by an earlier attempt of the same request: there is one schedule per id.
        pass


async def _get(session: AsyncSession, recurring_id: int) -> RecurringDirective:
    found = await session.get(RecurringDirective, recurring_id)
    if found is None or found.status == "deleted":
        raise NotFound(f"no recurring directive {recurring_id}")
    return found


async def create_recurring_directive(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    user: Principal,
    body: RecurringDirectiveCreate,
) -> RecurringDirectivePublic:
    """A weekly obligation for every commune (or a list): a Temporal Schedule opens each
    week's period on Monday 00:00, Asia/Ho_Chi_Minh."""
    known = set(
        await session.scalars(select(Commune.code).where(Commune.province_code == str(DAK_LAK)))
    )
    communes = sorted(set(body.communes)) if body.communes is not None else sorted(known)
    unknown = [c for c in communes if c not in known]
    if unknown or not communes:
        raise Invalid(f"unknown communes: {', '.join(unknown[:10])}" if unknown else "no communes")
    recurring = RecurringDirective(
        title=body.title, body=body.body, required_count=body.required_activities,
        communes=communes, skip_holidays=body.skip_holidays, status="active",
        created_by=user.actor, created_at=utcnow(), updated_at=utcnow(),
    )  # fmt: skip
    session.add(recurring)
    await session.commit()
    await _ensure_schedule(client, recurring.id, settings)
    return _public(recurring)


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
    handle = client.get_schedule_handle(recurring_schedule_id(recurring_id))
    if paused:
        await handle.pause(note=f"paused by {actor}")
    else:
        await handle.unpause(note=f"resumed by {actor}")
    recurring.status = "paused" if paused else "active"
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
    recurring.status = "deleted"
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
