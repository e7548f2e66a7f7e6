"""Recurring obligations in the read model: open a period for every commune, close it as met
or missed. Both work on all communes in one statement and are keyed by (recurring directive,
period start, commune): a retry opens or closes nothing twice."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import Engine, case, func, select, update
from sqlalchemy.orm import Session
from temporalio import activity

from db.models import ObligationPeriod, ObligationReport, RecurringDirective, utcnow
from db.upsert import insert_ignoring_duplicates
from vocabulary.calendar import VIETNAM, is_working_day
from workflows.obligation_types import (
    CLOSE_OBLIGATION_PERIOD,
    OPEN_OBLIGATION_PERIOD,
    ClosePeriodInput,
    OpenedPeriod,
    OpenPeriodInput,
    PeriodOutcome,
)

OPEN, MET, MISSED, NOT_APPLICABLE = "open", "met", "missed", "not_applicable"


def week_of(moment: datetime) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00, Asia/Ho_Chi_Minh, of the week holding `moment`
    (a moment a few seconds before Monday counts as Monday: a schedule fires on time, its
    workflow starts a moment later, never earlier)."""
    day = moment.astimezone(VIETNAM).date()
    monday = day - timedelta(days=day.weekday())
    starts = datetime.combine(monday, time(), VIETNAM)
    return starts, starts + timedelta(days=7)


class ObligationActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=OPEN_OBLIGATION_PERIOD)
    def open_obligation_period(self, request: OpenPeriodInput) -> OpenedPeriod:
        """Open the week of `at` for every commune of the recurring directive, or record it
        not applicable: the week has no working day and the rule skips holidays, or it opens
        only after it has ended (an outage longer than the week: no commune could report
        against it). A second call finds the rows there and returns the same answer."""
        starts, ends = week_of(request.at)
        with Session(self._engine) as session, session.begin():
            recurring = session.get(RecurringDirective, request.recurring_id)
            if recurring is None or recurring.status == "deleted":
                return OpenedPeriod(request.recurring_id, starts, ends, applicable=False)
            days = [starts.date() + timedelta(days=i) for i in range(7)]
            applicable = not recurring.skip_holidays or any(is_working_day(d) for d in days)
            if request.opened_at is not None and request.opened_at >= ends:
                applicable = False
            rows = [
                {
                    "recurring_id": recurring.id,
                    "commune_code": code,
                    "starts_at": starts,
                    "ends_at": ends,
                    "required_count": recurring.required_count,
                    "status": OPEN if applicable else NOT_APPLICABLE,
                    "reported_count": 0,
                }
                for code in recurring.communes
            ]
            if rows:
                session.execute(
                    insert_ignoring_duplicates(
                        ObligationPeriod.__table__,  # type: ignore[arg-type]
                        self._engine.dialect.name,
                        rows,
                    )
                )
        return OpenedPeriod(request.recurring_id, starts, ends, applicable, len(rows))

    @activity.defn(name=CLOSE_OBLIGATION_PERIOD)
    def close_obligation_period(self, request: ClosePeriodInput) -> PeriodOutcome:
        """Close the period for every commune at once: met with at least the required number
        of activities reported, missed otherwise. Closing again changes nothing."""
        reported = (
            select(func.count(ObligationReport.id))
            .where(ObligationReport.period_id == ObligationPeriod.id)
            .scalar_subquery()
        )
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(ObligationPeriod)
                .where(
                    ObligationPeriod.recurring_id == request.recurring_id,
                    ObligationPeriod.starts_at == request.starts_at,
                    ObligationPeriod.status == OPEN,
                )
                .values(reported_count=reported, closed_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(ObligationPeriod)
                .where(
                    ObligationPeriod.recurring_id == request.recurring_id,
                    ObligationPeriod.starts_at == request.starts_at,
                    ObligationPeriod.status == OPEN,
                )
                .values(
                    status=case(
                        (ObligationPeriod.reported_count >= ObligationPeriod.required_count, MET),
                        else_=MISSED,
                    )
                )
                .execution_options(synchronize_session=False)
            )
            outcome = dict(
                session.execute(
                    select(ObligationPeriod.status, func.count())
                    .where(
                        ObligationPeriod.recurring_id == request.recurring_id,
                        ObligationPeriod.starts_at == request.starts_at,
                    )
                    .group_by(ObligationPeriod.status)
                ).all()
            )
            missed = list(
                session.scalars(
                    select(ObligationPeriod.commune_code)
                    .where(
                        ObligationPeriod.recurring_id == request.recurring_id,
                        ObligationPeriod.starts_at == request.starts_at,
                        ObligationPeriod.status == MISSED,
                    )
                    .order_by(ObligationPeriod.commune_code)
                )
            )
        return PeriodOutcome(
            recurring_id=request.recurring_id,
            starts_at=request.starts_at,
            met=int(outcome.get(MET, 0)),
            missed=int(outcome.get(MISSED, 0)),
            not_applicable=int(outcome.get(NOT_APPLICABLE, 0)),
            communes_missed=missed,
        )
