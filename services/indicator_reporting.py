"""Reporting on an indicator as a durable process: each reporting period of a commune-scoped
indicator is a directive addressed to the communes, so every commune gets a reporting task on
the assignment engine (reminders before the report-by time, the escalation ladder once it is
late) and nothing new runs in the engine.

A commune's value for a day inside an opened period reports that commune's task; the office
accepting the value accepts the report, returning it returns the task with the reason. The
value is stored first and stands whatever the task says: a task already reported, completed
or not opened yet leaves it as it is (the office sees the value in its verification queue).

Report-by rule: the close of the office day (17:00, Asia/Ho_Chi_Minh) of the fifth working day
on the Vietnamese calendar after the period's last day."""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from config import Settings
from db import queries
from db.communes import DAK_LAK
from db.models import Assignment, Commune, Directive, policy_to_json
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
from services.indicators import last_ended_period
from services.principals import Principal
from vocabulary.calendar import VIETNAM, working_days_later
from vocabulary.directives import AssignmentStatus, DirectivePolicy, DirectiveStatus, EscalationStep
from vocabulary.indicators import RHYTHM_MONTHS, IndicatorScope, ReportingRhythm
from vocabulary.roles import Role

log = logging.getLogger("axis.indicators")

REPORT_WORKING_DAYS = 5
DAY = 86_400
# Reminded three days and one day before the report-by time; late, the official in charge after
# two days and the steering office after five, as a directive's defaults escalate.
REPORTING_POLICY = DirectivePolicy(
    reminder_offsets_seconds=[3 * DAY, 1 * DAY],
    escalation=[
        EscalationStep(after_seconds=2 * DAY, to=Role.OFFICIAL_IN_CHARGE),
        EscalationStep(after_seconds=5 * DAY, to=Role.STEERING_OFFICE),
    ],
    acknowledge_within_seconds=None,
)
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


def period_of(rhythm: ReportingRhythm, start: date) -> tuple[date, date]:
    """The period that starts on `start`: a calendar month, quarter or year."""
    months = RHYTHM_MONTHS[rhythm]
    if start.day != 1 or (start.month - 1) % months != 0:
        raise Invalid(f"a {rhythm.value} period starts on the first day of its period, not {start}")
    # The period after this one ended last the day before it starts: read its bounds from there.
    index = start.year * 12 + start.month - 1 + months
    after = date(index // 12, index % 12 + 1, 1)
    return last_ended_period(rhythm, after)


def report_by(period_end: date) -> datetime:
    """The close of the office day of the fifth working day after the period's last day."""
    return working_days_later(datetime.combine(period_end, time(12), VIETNAM), REPORT_WORKING_DAYS)


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


async def _find(session: AsyncSession, code: str, start: date) -> IndicatorPeriod | None:
    found: IndicatorPeriod | None = await session.scalar(
        select(IndicatorPeriod).where(
            IndicatorPeriod.indicator_code == code, IndicatorPeriod.period_start == start
        )
    )
    return found


def _directive(indicator: Indicator, start: date, end: date, due: datetime) -> dict[str, Any]:
    return {
        "title": f"Báo cáo chỉ tiêu {indicator.code} kỳ {start:%d/%m/%Y}–{end:%d/%m/%Y}"[:500],
        "body": (
            f"Đề nghị UBND xã báo cáo số liệu chỉ tiêu «{indicator.name}»"
            f" ({indicator.unit_of_measure or 'số liệu'}) tính đến ngày {end:%d/%m/%Y},"
            f" kèm minh chứng, trước {due.astimezone(VIETNAM):%H:%M ngày %d/%m/%Y}."
        ),
    }


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
    indicator = await session.get(Indicator, code)
    if indicator is None:
        raise NotFound(f"indicator {code} not found")
    scope = IndicatorScope(indicator.scope)
    if scope is IndicatorScope.AGENCY:
        raise Conflict(AGENCIES_LATER)
    rhythm = ReportingRhythm(indicator.rhythm)
    if period_start is None:
        start, end = last_ended_period(rhythm, now.astimezone(VIETNAM).date())
    else:
        start, end = period_of(rhythm, period_start)
    created = False
    period = await _find(session, code, start)
    if period is None:
        period, created = await _store(session, indicator, scope, start, end, actor, now)
    if period.directive_id is None:
        return _public(period, 0, NO_TASKS_PROVINCE), created
    directive = await session.get(Directive, period.directive_id)
    assert directive is not None  # stored with the period, in one transaction
    await release_connection(session)
    await start_directive(temporal, settings, directive)
    if directive.status == DirectiveStatus.ISSUING:
        await wait_for_plan(temporal, directive.id, settings.issue_wait_seconds)
    return _public(period, len(directive.communes)), created


async def _store(
    session: AsyncSession,
    indicator: Indicator,
    scope: IndicatorScope,
    start: date,
    end: date,
    actor: str,
    now: datetime,
) -> tuple[IndicatorPeriod, bool]:
    """The period's row and, for a commune-scoped indicator, its directive, in one transaction:
    two openings at once store one, and the second answers with it."""
    due = report_by(end)
    directive_id: int | None = None
    if scope is IndicatorScope.COMMUNE:
        communes = sorted(
            await session.scalars(select(Commune.code).where(Commune.province_code == str(DAK_LAK)))
        )
        directive = Directive(
            **_directive(indicator, start, end, due),
            status=DirectiveStatus.ISSUING.value,
            revision=1,
            issued_at=now,
            issued_by=actor,
            # The report-by time may already have passed when an old period is opened late:
            # the tasks are then overdue from the start, and the ladder climbs at once.
            deadline=due,
            due_in_working_days=None,
            communes=communes,
            policy=policy_to_json(REPORTING_POLICY),
            updated_at=now,
        )
        session.add(directive)
        await session.flush()
        directive_id = directive.id
    period = IndicatorPeriod(
        indicator_code=indicator.code,
        period_start=start,
        period_end=end,
        report_by=due,
        directive_id=directive_id,
        opened_by=actor,
        opened_at=now,
    )
    session.add(period)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        existing = await _find(session, indicator.code, start)
        if existing is None:
            raise
        return existing, False
    return period, True


async def list_periods(session: AsyncSession, code: str) -> IndicatorPeriodsPublic:
    """An indicator's periods, newest first, with their tasks counted in one query."""
    if await session.get(Indicator, code) is None:
        raise NotFound(f"indicator {code} not found")

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
                period, tasks, "" if period.directive_id is not None else NO_TASKS_PROVINCE
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
    found = await _task_of(session, value)
    if found is None:
        return None
    period, assignment = found
    assert period.directive_id is not None
    actions = AssignmentActions(
        period.directive_id, assignment.commune_code, session, temporal, settings
    )
    try:
        done = await actions.report(user, _summary(value), _evidence(value))
        if value.status is ValueStatus.ACCEPTED:
            done = await actions.review(user, True, "giá trị do Văn phòng nhập")
    except ServiceError as refused:
        # The value stands: the task may already carry another value, or be closed.
        log.info("value %s left task %s/%s as it was: %s", value.id, period.directive_id,
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
    found = await _task_of(session, value)
    if found is None:
        return None
    period, assignment = found
    assert period.directive_id is not None
    actions = AssignmentActions(
        period.directive_id, assignment.commune_code, session, temporal, settings
    )
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
                 period.directive_id, assignment.commune_code, refused)  # fmt: skip
        return None
    return done.status
