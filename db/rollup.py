"""The roll-up of assignments per commune and period, in one SQL statement for all communes.

Which assignments a period holds: those whose *original* deadline falls in it (an extension
does not move an assignment into the next period), cancelled ones left out (a recalled
directive counts against nobody). Every figure is a `SUM(CASE WHEN <predicate>)` over the same
rows, and the predicates are named (`FIELDS`): the scorecard's explanation lists the
assignments behind a figure with the very predicate that counted them.

Medians are computed in SQL with window functions (ROW_NUMBER and COUNT over the commune),
which SQLite and PostgreSQL both run; SQLite has no percentile_cont."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from db.communes import DAK_LAK
from db.models import Assignment, AssignmentEventRow, Commune, Directive
from scoring.periods import Period
from workflows.types import AssignmentStatus, Timeliness


class seconds_between(FunctionElement[float]):
    """Seconds from the second argument to the first, on either database."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)}))"
    )


@compiles(seconds_between)
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"((julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)})) * 86400.0)"
    )


@dataclass(frozen=True)
class Rows:
    """The columns the predicates read: one row per assignment of the period, with its
    events counted."""

    status: Any
    timeliness: Any
    acknowledge_by: Any
    acknowledged_at: Any
    escalation_level: Any
    returns: Any
    extensions_requested: Any
    extensions_granted: Any
    as_of: Any


Predicate = Callable[[Rows], ColumnElement[bool]]
_DECIDED = (Timeliness.ON_TIME.value, Timeliness.LATE.value, Timeliness.OVERDUE.value)

# Each figure of the roll-up, as the assignments it counts.
FIELDS: dict[str, Predicate] = {
    "received": lambda r: literal(True),
    # Its deadline has passed or it was answered: the ones timeliness can be judged on.
    "decided": lambda r: r.timeliness.in_(_DECIDED),
    "on_time": lambda r: r.timeliness == Timeliness.ON_TIME.value,
    "completed_on_time": lambda r: and_(
        r.status == AssignmentStatus.COMPLETED.value, r.timeliness == Timeliness.ON_TIME.value
    ),
    "completed_late": lambda r: and_(
        r.status == AssignmentStatus.COMPLETED.value, r.timeliness == Timeliness.LATE.value
    ),
    "overdue_now": lambda r: r.timeliness == Timeliness.OVERDUE.value,
    # An acknowledge-by time that has passed, or an acknowledgement: judged on speed.
    "acknowledgement_due": lambda r: and_(
        r.acknowledge_by.is_not(None),
        or_(r.acknowledged_at.is_not(None), r.acknowledge_by < r.as_of),
    ),
    "acknowledged_in_time": lambda r: and_(
        r.acknowledge_by.is_not(None), r.acknowledged_at <= r.acknowledge_by
    ),
    "escalated": lambda r: r.escalation_level >= 1,
    "escalated_level_1": lambda r: r.escalation_level == 1,
    "escalated_level_2": lambda r: r.escalation_level == 2,
    "escalated_level_3_plus": lambda r: r.escalation_level >= 3,
    "returned_for_rework": lambda r: r.returns > 0,
    "extension_asked": lambda r: r.extensions_requested > 0,
    "extension_granted": lambda r: r.extensions_granted > 0,
}
# Counts of events rather than of assignments.
EVENT_TOTALS = {
    "returns": "returned",
    "extension_requests": "extension_requested",
    "extensions_granted": "extension_granted",
}


def _holds(predicate: ColumnElement[bool]) -> ColumnElement[bool]:
    """A predicate that is false, never NULL, where a column it reads is NULL."""
    return func.coalesce(predicate, False)


def _assignments_of_period(period: Period, as_of: datetime) -> tuple[Select[Any], Any]:
    """One row per assignment of the period with its events counted, and the Rows view."""
    events = (
        select(
            AssignmentEventRow.directive_id,
            AssignmentEventRow.commune_code,
            *(
                func.sum(case((AssignmentEventRow.kind == kind, 1), else_=0)).label(name)
                for name, kind in EVENT_TOTALS.items()
            ),
        )
        .where(AssignmentEventRow.kind.in_(EVENT_TOTALS.values()))
        .group_by(AssignmentEventRow.directive_id, AssignmentEventRow.commune_code)
        .subquery("events")
    )
    returns = func.coalesce(events.c.returns, 0)
    requested = func.coalesce(events.c.extension_requests, 0)
    granted = func.coalesce(events.c.extensions_granted, 0)
    rows = Rows(
        status=Assignment.status,
        timeliness=Assignment.timeliness,
        acknowledge_by=Assignment.acknowledge_by,
        acknowledged_at=Assignment.acknowledged_at,
        escalation_level=Assignment.escalation_level,
        returns=returns,
        extensions_requested=requested,
        extensions_granted=granted,
        as_of=literal(as_of, Assignment.deadline.type),
    )
    query = (
        select(
            Assignment.id.label("assignment_id"),
            Assignment.directive_id,
            Assignment.commune_code,
            seconds_between(Assignment.acknowledged_at, Directive.issued_at).label("ack_seconds"),
            case(
                (
                    Assignment.status == AssignmentStatus.COMPLETED.value,
                    seconds_between(Assignment.reported_at, Directive.issued_at),
                ),
                else_=null(),
            ).label("completion_seconds"),
            *(_holds(predicate(rows)).label(f"is_{name}") for name, predicate in FIELDS.items()),
            returns.label("returns"),
            requested.label("extension_requests"),
            granted.label("extensions_granted"),
        )
        .join(Directive, Directive.id == Assignment.directive_id)
        .outerjoin(
            events,
            and_(
                events.c.directive_id == Assignment.directive_id,
                events.c.commune_code == Assignment.commune_code,
            ),
        )
        .where(
            Assignment.original_deadline >= period.start,
            Assignment.original_deadline < period.end,
            Assignment.status != AssignmentStatus.CANCELLED.value,
        )
    )
    return query, rows


def _median(base: Any, column: str) -> Select[Any]:
    value = base.c[column]
    ranked = (
        select(
            base.c.commune_code,
            value.label("v"),
            func.row_number().over(partition_by=base.c.commune_code, order_by=value).label("rn"),
            func.count().over(partition_by=base.c.commune_code).label("n"),
        )
        .where(value.is_not(None))
        .subquery(f"ranked_{column}")
    )
    # The middle row, or the mean of the two middle rows: (n+1)/2 and (n+2)/2 in integers.
    return (
        select(ranked.c.commune_code, func.avg(ranked.c.v).label("median"))
        .where(
            ranked.c.rn.in_(
                [
                    cast((ranked.c.n + 1) / 2, Integer),
                    cast((ranked.c.n + 2) / 2, Integer),
                ]
            )
        )
        .group_by(ranked.c.commune_code)
    )


def rollup_query(period: Period, as_of: datetime, province_code: int = DAK_LAK) -> Any:
    """Every commune of the province with its figures for the period, in one statement."""
    query, _ = _assignments_of_period(period, as_of)
    base = query.cte("period_assignments")
    totals = (
        select(
            base.c.commune_code,
            *(func.sum(case((base.c[f"is_{name}"], 1), else_=0)).label(name) for name in FIELDS),
            *(func.sum(base.c[name]).label(name) for name in EVENT_TOTALS),
        )
        .group_by(base.c.commune_code)
        .subquery("totals")
    )
    ack = _median(base, "ack_seconds").subquery("ack_median")
    done = _median(base, "completion_seconds").subquery("completion_median")
    return (
        select(
            Commune.code.label("commune_code"),
            Commune.name,
            *(func.coalesce(totals.c[name], 0).label(name) for name in FIELDS),
            *(func.coalesce(totals.c[name], 0).label(name) for name in EVENT_TOTALS),
            ack.c.median.label("median_acknowledgement_seconds"),
            done.c.median.label("median_completion_seconds"),
        )
        .outerjoin(totals, totals.c.commune_code == Commune.code)
        .outerjoin(ack, ack.c.commune_code == Commune.code)
        .outerjoin(done, done.c.commune_code == Commune.code)
        .where(Commune.province_code == str(province_code))
        .order_by(Commune.code)
    )


def rollup(session: Session, period: Period, as_of: datetime) -> dict[str, dict[str, Any]]:
    """{commune_code: {figure: value}} for every commune of the province."""
    result: dict[str, dict[str, Any]] = {}
    for row in session.execute(rollup_query(period, as_of)).mappings():
        figures = {k: (int(v) if k in FIELDS or k in EVENT_TOTALS else v) for k, v in row.items()}
        for key in ("median_acknowledgement_seconds", "median_completion_seconds"):
            if figures[key] is not None:
                figures[key] = round(float(figures[key]), 1)
        result[row["commune_code"]] = figures
    return result


def assignments_behind(
    session: Session,
    period: Period,
    as_of: datetime,
    commune_code: str,
    counted: str,
    excluded: str | None = None,
) -> list[dict[str, int | str]]:
    """The assignments of one commune a figure counts (`counted`), less those of another
    (`excluded`): the evidence behind points lost."""
    query, rows = _assignments_of_period(period, as_of)
    condition = _holds(FIELDS[counted](rows))
    if excluded is not None:
        condition = and_(condition, ~_holds(FIELDS[excluded](rows)))
    found = session.execute(
        query.where(Assignment.commune_code == commune_code, condition).order_by(
            Assignment.directive_id
        )
    )
    return [
        {
            "assignment_id": row.assignment_id,
            "directive_id": row.directive_id,
            "commune_code": row.commune_code,
        }
        for row in found
    ]
