"""An indicator's reporting period stored once, with its directive for a commune-scoped
indicator, in the caller's transaction: the office's request (through `run_sync`) and the
schedule's activity open a period through these functions: `plan_period` reads, in a
transaction of its own, then `write_period` writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.communes import DAK_LAK
from db.models import Commune, Directive, policy_to_json
from db.models.indicators import Indicator, IndicatorPeriod
from vocabulary.directives import DirectiveStatus
from vocabulary.indicator_periods import (
    REPORTING_POLICY,
    directive_text,
    ended_last,
    period_of,
    report_by,
)
from vocabulary.indicators import IndicatorScope, IndicatorSource, ReportingRhythm


class UnknownIndicator(LookupError):
    pass


class AgencyIndicator(Exception):
    """Agencies receive tasks once plans of tasks for the whole province (issue 17) land."""


@dataclass
class StoredPeriod:
    period: IndicatorPeriod
    directive: Directive | None
    created: bool


def find_period(session: Session, code: str, start: date) -> IndicatorPeriod | None:
    return session.scalar(
        select(IndicatorPeriod).where(
            IndicatorPeriod.indicator_code == code, IndicatorPeriod.period_start == start
        )
    )


@dataclass
class PeriodPlan:
    """What a period's opening will write, read first in a transaction of its own: on SQLite a
    transaction that reads and then writes fails at once when another writer went between."""

    indicator: Indicator
    scope: IndicatorScope
    start: date
    end: date
    communes: list[str]
    existing: StoredPeriod | None


def plan_period(session: Session, code: str, period_start: date | None, today: date) -> PeriodPlan:
    """The period starting on `period_start` (the one ended last before `today` when None),
    and the one already stored for it. Raises UnknownIndicator, AgencyIndicator, or ValueError
    for a start where no period starts."""
    indicator = session.get(Indicator, code)
    if indicator is None:
        raise UnknownIndicator(code)
    scope = IndicatorScope(indicator.scope)
    if scope is IndicatorScope.AGENCY:
        raise AgencyIndicator(code)
    rhythm = ReportingRhythm(indicator.rhythm)
    if period_start is None:
        start, end = ended_last(rhythm, today)
    else:
        start, end = period_of(rhythm, period_start)
    found = find_period(session, code, start)
    communes: list[str] = []
    # An indicator the product computes needs no report: its period gives nobody a task, however
    # it was opened (the office's request or a schedule left over from before its source).
    reported = indicator.source == IndicatorSource.REPORTED.value
    if found is None and scope is IndicatorScope.COMMUNE and reported:
        communes = sorted(
            session.scalars(select(Commune.code).where(Commune.province_code == str(DAK_LAK)))
        )
    existing = _stored(session, found, created=False) if found is not None else None
    return PeriodPlan(indicator, scope, start, end, communes, existing)


def write_period(session: Session, plan: PeriodPlan, actor: str, now: datetime) -> StoredPeriod:
    """Store the planned period once, writing first: a second call, or one racing beside it,
    finds the first one's rows."""
    if plan.existing is not None:
        return plan.existing
    indicator, start, end = plan.indicator, plan.start, plan.end
    due = report_by(end)
    try:
        # A savepoint: a racing request that stored the same period first leaves this one's
        # transaction usable to read it.
        with session.begin_nested():
            directive = None
            if plan.scope is IndicatorScope.COMMUNE and plan.communes:
                directive = _directive(
                    session, indicator, plan.communes, start, end, due, actor, now
                )
            period = IndicatorPeriod(
                indicator_code=indicator.code,
                period_start=start,
                period_end=end,
                report_by=due,
                directive_id=directive.id if directive else None,
                opened_by=actor,
                opened_at=now,
            )
            session.add(period)
    except IntegrityError:
        existing = find_period(session, indicator.code, start)
        if existing is None:
            raise
        return _stored(session, existing, created=False)
    return StoredPeriod(period, directive, created=True)


def _stored(session: Session, period: IndicatorPeriod, created: bool) -> StoredPeriod:
    directive = session.get(Directive, period.directive_id) if period.directive_id else None
    return StoredPeriod(period, directive, created)


def _directive(
    session: Session,
    indicator: Indicator,
    communes: list[str],
    start: date,
    end: date,
    due: datetime,
    actor: str,
    now: datetime,
) -> Directive:
    title, body = directive_text(
        indicator.code, indicator.name, indicator.unit_of_measure, start, end, due
    )
    directive = Directive(
        title=title,
        body=body,
        status=DirectiveStatus.ISSUING.value,
        revision=1,
        issued_at=now,
        issued_by=actor,
        # An old period opened late is due at a moment already past: its tasks are overdue from
        # the start, and the escalation ladder climbs at once.
        deadline=due,
        due_in_working_days=None,
        communes=communes,
        policy=policy_to_json(REPORTING_POLICY),
        updated_at=now,
    )
    session.add(directive)
    session.flush()
    return directive
