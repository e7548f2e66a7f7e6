"""Reporting on an indicator as a durable process: each reporting period of a commune-scoped
indicator is a directive addressed to the communes, so every commune gets a reporting task on
the assignment engine (reminders before the report-by time, the escalation ladder once it is
late) and nothing new runs in the engine.

A commune's value for a day inside an opened period reports that commune's task; the office
accepting the value accepts the report, returning it returns the task with the reason. The
value is stored first and stands whatever the task says: a task already reported, completed
or not opened yet leaves it as it is (the office sees the value in its verification queue).

Each commune-scoped indicator's periods open on their own: a Temporal Schedule per indicator
(`indicator-{code}`, at 00:00 Asia/Ho_Chi_Minh on the first day after each period) starts a
small workflow that opens the period that has just ended, through the same storing function as
the office's request. The schedule follows the indicator's rhythm and scope
(`keep_schedule`), and `reconcile_schedules` makes a missing one again.

Report-by rule: the close of the office day (17:00, Asia/Ho_Chi_Minh) of the fifth working day
on the Vietnamese calendar after the period's last day."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from db import queries
from db.indicator_periods import (
    AgencyIndicator,
    PeriodPlan,
    StoredPeriod,
    UnknownIndicator,
    plan_period,
    write_period,
)
from db.models import Assignment
from db.models.indicators import Indicator, IndicatorPeriod
from services.assignments import AssignmentActions
from services.directives import release_connection, start_directive, wait_for_plan
from services.errors import Conflict, Invalid, NotFound, ServiceError
from services.indicator_schemas import (
    IndicatorPeriodListed,
    IndicatorPeriodPublic,
    IndicatorPeriodsPublic,
    PeriodCounts,
    ValuePublic,
    ValueStatus,
)
from services.principals import Principal
from vocabulary.calendar import VIETNAM
from vocabulary.directives import AssignmentStatus, DirectiveStatus
from vocabulary.indicator_periods import (
    indicator_period_workflow_id,
    indicator_schedule_id,
    schedule_cron,
)
from vocabulary.indicators import IndicatorScope, IndicatorSource, ReportingRhythm
from workflows.indicator_period import IndicatorPeriodWorkflow
from workflows.indicator_period_types import IndicatorPeriodInput

log = logging.getLogger("axis.indicators")

NO_TASKS_PROVINCE = (
    "a province's indicator is reported by the steering office itself: no reporting tasks"
)
AGENCIES_LATER = (
    "an agency-scoped indicator's reporting tasks go to agencies, which receive tasks once plans"
    " of tasks for the whole province (issue 17) land; record its values directly until then"
)
REPORTED = (AssignmentStatus.REPORTED.value, AssignmentStatus.COMPLETED.value)
MISSING = (
    AssignmentStatus.NOTIFIED.value,
    AssignmentStatus.ACKNOWLEDGED.value,
    AssignmentStatus.RETURNED.value,
)
LATE_TIMELINESS = ("overdue", "late")


def no_tasks_computed(source: str) -> str:
    """Why a computed indicator's period opens no tasks."""
    return (
        f"this indicator computes itself from the product's own records ({source}):"
        " no reporting tasks"
    )


def _public(period: IndicatorPeriod, tasks: int, note: str = "") -> IndicatorPeriodPublic:
    return IndicatorPeriodPublic(
        indicator_code=period.indicator_code,
        period_start=period.period_start,
        period_end=period.period_end,
        report_by=period.report_by,
        directive_id=period.directive_id,
        tasks=tasks,
        note=note,
        opened_by=period.opened_by,
        opened_at=period.opened_at,
    )


async def open_period(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    code: str,
    period_start: date | None,
    actor: str,
    now: datetime,
) -> tuple[IndicatorPeriodPublic, bool]:
    """Open a reporting period (the one that ended last by default). A commune-scoped
    indicator's period is a directive to every commune of the province, due at the report-by
    time; a province's has no tasks; an agency's is refused until agencies take tasks. Opening
    the same period again answers the first opening (and starts its directive if the first
    request could not). Returns (period, created)."""
    today = now.astimezone(VIETNAM).date()

    def plan(sync: Session) -> PeriodPlan:
        return plan_period(sync, code, period_start, today)

    try:
        planned = await session.run_sync(plan)
    except UnknownIndicator as e:
        raise NotFound(f"indicator {code} not found") from e
    except AgencyIndicator as e:
        raise Conflict(AGENCIES_LATER) from e
    except ValueError as e:
        raise Invalid(str(e)) from e
    stored = planned.existing
    computed = planned.indicator.source != IndicatorSource.REPORTED.value
    if stored is None:
        # The reads end first: the writing transaction starts with its first write.
        await session.commit()

        def write(sync: Session) -> StoredPeriod:
            return write_period(sync, planned, actor, now)

        stored = await session.run_sync(write)
        await session.commit()
    period, directive = stored.period, stored.directive
    if directive is None:
        note = no_tasks_computed(planned.indicator.source) if computed else NO_TASKS_PROVINCE
        return _public(period, 0, note), stored.created
    await release_connection(session)
    await start_directive(temporal, settings, directive)
    if directive.status == DirectiveStatus.ISSUING:
        await wait_for_plan(temporal, directive.id, settings.issue_wait_seconds)
    return _public(period, len(directive.communes)), stored.created


async def list_periods(session: AsyncSession, code: str) -> IndicatorPeriodsPublic:
    """An indicator's periods, newest first, with their tasks counted in one query."""
    indicator = await session.get(Indicator, code)
    if indicator is None:
        raise NotFound(f"indicator {code} not found")
    no_tasks = (
        NO_TASKS_PROVINCE
        if indicator.source == IndicatorSource.REPORTED.value
        else no_tasks_computed(indicator.source)
    )

    def count_where(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    reported = Assignment.status.in_(REPORTED)
    rows = (
        await session.execute(
            select(
                IndicatorPeriod,
                func.count(Assignment.id),
                count_where(reported),
                count_where(Assignment.status == AssignmentStatus.COMPLETED.value),
                count_where(reported & Assignment.timeliness.in_(LATE_TIMELINESS)),
                count_where(Assignment.status.in_(MISSING)),
            )
            .outerjoin(Assignment, Assignment.directive_id == IndicatorPeriod.directive_id)
            .where(IndicatorPeriod.indicator_code == code)
            .group_by(IndicatorPeriod.id)
            .order_by(IndicatorPeriod.period_start.desc())
        )
    ).all()
    data = [
        IndicatorPeriodListed(
            **_public(
                period, tasks, "" if period.directive_id is not None else no_tasks
            ).model_dump(),
            counts=PeriodCounts(
                tasks=tasks, reported=n_reported, accepted=accepted, late=late, missing=missing
            ),
        )
        for period, tasks, n_reported, accepted, late, missing in rows
    ]
    return IndicatorPeriodsPublic(data=data, count=len(data))


# --- values reporting the tasks -----------------------------------------------------------------


async def _task_of(
    session: AsyncSession, value: ValuePublic
) -> tuple[IndicatorPeriod, Assignment] | None:
    """The opened period the value's day falls in, and the value's commune's task in it."""
    if value.unit_code is None:
        return None
    period = await session.scalar(
        select(IndicatorPeriod).where(
            IndicatorPeriod.indicator_code == value.indicator_code,
            IndicatorPeriod.period_start <= value.as_of,
            IndicatorPeriod.period_end >= value.as_of,
            IndicatorPeriod.directive_id.is_not(None),
        )
    )
    if period is None or period.directive_id is None:
        return None
    found = await queries.get_assignment(session, period.directive_id, value.unit_code)
    return (period, found[0]) if found else None


async def _task_actions(
    session: AsyncSession, temporal: Client, settings: Settings, value: ValuePublic
) -> tuple[Assignment, AssignmentActions] | None:
    """The commune's task the value belongs to, and the actions on it; None when the value lies
    in no opened period."""
    found = await _task_of(session, value)
    if found is None:
        return None
    period, assignment = found
    assert period.directive_id is not None
    actions = AssignmentActions(
        period.directive_id, assignment.commune_code, session, temporal, settings
    )
    return assignment, actions


def _marker(value: ValuePublic) -> str:
    # Names the value in the report's summary, so that its verification finds the report.
    return f"(#{value.id})"


def _summary(value: ValuePublic) -> str:
    return (
        f"Số liệu {value.indicator_code} ngày {value.as_of:%d/%m/%Y}: {value.value:g}"
        f" {_marker(value)}" + (f" — {value.note}" if value.note else "")
    )[:2000]


def _evidence(value: ValuePublic) -> list[str]:
    # Links or references, one a line or separated by spaces, as a report's evidence is a list.
    return value.evidence.split()[:20]


async def report_value(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    user: Principal,
    value: ValuePublic,
) -> str | None:
    """A value for a commune's day inside an opened period reports that commune's task (the
    office's own value reports it and accepts it at once). Returns the task's status after, or
    None when no task was touched."""
    found = await _task_actions(session, temporal, settings, value)
    if found is None:
        return None
    assignment, actions = found
    try:
        done = await actions.report(user, _summary(value), _evidence(value))
        if value.status is ValueStatus.ACCEPTED:
            done = await actions.review(user, True, "giá trị do Văn phòng nhập")
    except ServiceError as refused:
        # The value stands: the task may already carry another value, or be closed.
        log.info("value %s left task %s/%s as it was: %s", value.id, assignment.directive_id,
                 assignment.commune_code, refused)  # fmt: skip
        return None
    return done.status


async def review_value(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    user: Principal,
    value: ValuePublic,
) -> str | None:
    """The office's verdict on a value passes to the commune's task: accepted, the report is
    accepted (a task that no report of this value reached is reported with it first); returned,
    the task is returned with the reason. Returns the task's status after, or None."""
    found = await _task_actions(session, temporal, settings, value)
    if found is None:
        return None
    assignment, actions = found
    accepted = value.status is ValueStatus.ACCEPTED
    reported_this = assignment.status == AssignmentStatus.REPORTED.value and _marker(value) in (
        assignment.report_summary or ""
    )
    try:
        if not reported_this:
            if not accepted or assignment.status not in MISSING:
                return None
            await actions.report(user, _summary(value), _evidence(value))
        done = await actions.review(user, accepted, "" if accepted else value.return_reason or "")
    except ServiceError as refused:
        log.info("verdict on value %s left task %s/%s as it was: %s", value.id,
                 assignment.directive_id, assignment.commune_code, refused)  # fmt: skip
        return None
    return done.status


# --- the schedules that open periods on their own ----------------------------------------------


def schedule_for(code: str, rhythm: ReportingRhythm, settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            IndicatorPeriodWorkflow.run,
            IndicatorPeriodInput(indicator_code=code),
            id=indicator_period_workflow_id(code),
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            cron_expressions=[schedule_cron(rhythm)], time_zone_name="Asia/Ho_Chi_Minh"
        ),
        # Opening a period is quick and idempotent: a run late after an outage opens its own.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
        state=ScheduleState(note=f"indicator {code}: opens each {rhythm.value} period"),
    )


def _wants_schedule(scope: str, source: str) -> bool:
    # Only a commune-scoped indicator's periods give tasks; a province's is the office's own,
    # an agency's waits for agencies to take tasks, a computed one is reported by nobody.
    return scope == IndicatorScope.COMMUNE.value and source == IndicatorSource.REPORTED.value


async def keep_schedule(
    client: Client,
    settings: Settings,
    code: str,
    scope: str,
    rhythm: str,
    source: str = IndicatorSource.REPORTED.value,
) -> str:
    """Make the indicator's schedule follow it: made for a commune-scoped indicator that is
    reported, its rhythm updated when it changed, deleted when it no longer gives tasks.
    Returns what was done: made, updated, deleted or kept."""
    handle = client.get_schedule_handle(indicator_schedule_id(code))
    if not _wants_schedule(scope, source):
        try:
            await handle.delete()
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            return "kept"
        return "deleted"
    wanted = schedule_for(code, ReportingRhythm(rhythm), settings)
    try:
        await client.create_schedule(indicator_schedule_id(code), wanted)
        return "made"
    except ScheduleAlreadyRunningError:
        pass
    described = await handle.describe()
    # The engine answers a cron as calendars; the note names the rhythm it was made for.
    if described.schedule.state.note == wanted.state.note:
        return "kept"

    def follow(current: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(
            schedule=Schedule(
                action=wanted.action,
                spec=wanted.spec,
                policy=wanted.policy,
                state=ScheduleState(
                    note=wanted.state.note, paused=current.description.schedule.state.paused
                ),
            )
        )

    await handle.update(follow)
    return "updated"


async def keep_schedule_quietly(
    client: Client,
    settings: Settings,
    code: str,
    scope: str,
    rhythm: str,
    source: str = IndicatorSource.REPORTED.value,
) -> None:
    """After an indicator is added or changed: its schedule follows, or the reconciler makes
    it follow later; the office's change stands either way."""
    try:
        await keep_schedule(client, settings, code, scope, rhythm, source)
    except RPCError as e:
        log.warning("indicator %s: its schedule is not in step yet (%s)", code, e.message)


async def reconcile_schedules(
    session: AsyncSession, client: Client, settings: Settings
) -> dict[str, str]:
    """Every indicator's schedule in step with it (made, updated, deleted); safe to repeat.
    Returns {code: what was done} for those that changed.

    Each indicator is read just before its schedule is set, and again after: an office that
    changes the rhythm meanwhile (the reconciler runs at every API start, a Temporal call per
    indicator) has its change followed, never undone by the row read before it."""
    codes = (await session.scalars(select(Indicator.code).order_by(Indicator.code))).all()
    await session.commit()
    done: dict[str, str] = {}
    for code in codes:
        followed = None
        while (fields := await _schedule_fields(session, code)) not in (None, followed):
            what = await keep_schedule(client, settings, code, *fields)
            if what != "kept":
                done.setdefault(code, what)
            followed = fields
    return done


async def _schedule_fields(session: AsyncSession, code: str) -> tuple[str, str, str] | None:
    """What an indicator's schedule follows (scope, rhythm, source), as stored now."""
    row = (
        await session.execute(
            select(Indicator.scope, Indicator.rhythm, Indicator.source).where(
                Indicator.code == code
            )
        )
    ).first()
    await session.commit()
    return (row[0], row[1], row[2]) if row else None
