"""The roll-up of assignments per commune and period, in one SQL statement for all communes;
the same roll-up over the province's active agencies ranks them among themselves.

Which assignments a period holds: those whose *original* deadline falls in it (an extension
does not move an assignment into the next period), cancelled ones left out (a recalled
directive counts against nobody). Every figure is a `COUNT(*) FILTER (WHERE <predicate>)` over
the same rows, and the predicates are named once, in scoring/indicators.py: the scorecard's
explanation lists the assignments behind a figure with the very predicate that counted them.
The timeline's figures (returns, extensions asked for and granted) read the counts of those
events that each assignment's row keeps (db/models/directives.py, COUNTED_EVENTS), so that
every figure is counted in one pass over the roll-up's covering index, with no join to the
timeline (which took a third of the roll-up with medians on a million assignments). The
medians measure from the directive's issue as the assignment's row keeps it, so that they too
read the covering index alone (the join to the directives took half of the roll-up with
medians on a million assignments).
Figures read stored state only, never the clock (`as_of` is there for sources that need it):
a recompute of a past period gives what the first computation gave.

A median is the lower middle value: of n values in order, the ceil(n/2)-th (for an even
count, the lower of the two middle ones). PostgreSQL computes it with the ordered-set aggregate
percentile_disc(0.5), in the same pass over the period's assignments as the counts; SQLite has
no ordered-set aggregate and finds the same value with a window function (the first value whose
CUME_DIST reaches 0.5). Either way every value is sorted, so the ranking, which does not need
them, leaves them out, and one scorecard computes its commune's only.

An agency's assignment is an ordinary assignment whose `commune_code` holds the agency's code
(letters first, never five digits): the figures are counted per recipient code once, and the set
being ranked (`Ranked`) decides which recipients are listed: the province's communes (by
default), or the active agencies (`units.active`). Either list keeps every member, with nothing
due or not, and no member of the other set; the recipient's code stays under `commune_code`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from db.communes import DAK_LAK, communes_of_province
from db.models import Assignment, Commune, Unit
from db.models.directives import COUNTED_EVENTS
from scoring.indicators import ALL_FIELDS, EVENT_FIELDS, FIELDS, Rows
from scoring.periods import Period
from scoring.ranked import Ranked
from vocabulary.directives import AssignmentStatus


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


# Counts of events rather than of assignments: the sums of the counts the rows keep.
EVENT_TOTALS = tuple(COUNTED_EVENTS.values())
MEDIANS = ("median_acknowledgement_seconds", "median_completion_seconds")
# An assignment's column holding the instant a median measures from the directive's issue.
Instant = InstrumentedAttribute[datetime | None]


def _holds(predicate: ColumnElement[bool]) -> ColumnElement[bool]:
    """A predicate that is false, never NULL, where a column it reads is NULL."""
    return func.coalesce(predicate, False)


def _in_period(period: Period) -> list[ColumnElement[bool]]:
    return [
        Assignment.original_deadline >= period.start,
        Assignment.original_deadline < period.end,
        Assignment.status != AssignmentStatus.CANCELLED.value,
    ]


def _rows() -> Rows:
    return Rows(
        status=Assignment.status,
        timeliness=Assignment.timeliness,
        acknowledge_by=Assignment.acknowledge_by,
        acknowledged_at=Assignment.acknowledged_at,
        escalation_level=Assignment.escalation_level,
        returns=Assignment.returns,
        extensions_requested=Assignment.extension_requests,
        extensions_granted=Assignment.extensions_granted,
    )


def _in_one_pass(dialect: str) -> bool:
    """Whether the database has ordered-set aggregates, so that the medians are aggregates of
    the counts' own pass over the period's assignments rather than window functions apart."""
    return dialect == "postgresql"


def _spans() -> tuple[tuple[Instant, ColumnElement[bool]], ...]:
    """The two medians' values, as the instant measured from the directive's issue and the
    assignments that have one: acknowledgement (those acknowledged), and the report (those
    completed). Every database reads the same rows."""
    return (
        (Assignment.acknowledged_at, Assignment.acknowledged_at.is_not(None)),
        (
            Assignment.reported_at,
            and_(
                Assignment.status == AssignmentStatus.COMPLETED.value,
                Assignment.reported_at.is_not(None),
            ),
        ),
    )


def _lower_median(later: Instant, only: ColumnElement[bool]) -> ColumnElement[float]:
    """PostgreSQL: the lower middle value of the group's seconds from issue to `later`, over
    the assignments where `only` holds.

    percentile_disc(0.5) returns the ceil(0.5 * n)-th value in order (the first whose position
    reaches half the count), the very value the window function's CUME_DIST >= 0.5 finds. The
    spans are sorted as date_part's double precision seconds, passed by value and compared by
    the database's fast comparator: on a million assignments the roll-up took 3–5% less than
    with the spans sorted as intervals (passed by reference), and EXTRACT's numeric seconds
    cost more than either. Seconds and intervals sort alike, ties included."""
    seconds = func.date_part("epoch", later - Assignment.issued_at)
    return type_coerce(func.percentile_disc(0.5).within_group(seconds).filter(only), Float())


def _median(period: Period, seconds: ColumnElement[float], only: Any, label: str) -> Any:
    """SQLite: the median per commune, the lower middle value (for an even count, the lower of
    the two middle ones), found with CUME_DIST over the commune's values in order."""
    values = (
        select(Assignment.commune_code, seconds.label("v"))
        .where(*_in_period(period), only)
        .subquery(f"{label}_values")
    )
    ranked = select(
        values.c.commune_code,
        values.c.v,
        func.cume_dist().over(partition_by=values.c.commune_code, order_by=values.c.v).label("cd"),
    ).subquery(f"{label}_ranked")
    return (
        select(ranked.c.commune_code, func.min(ranked.c.v).label("median"))
        .where(ranked.c.cd >= 0.5)
        .group_by(ranked.c.commune_code)
        .subquery(label)
    )


def _counted(predicate: ColumnElement[bool]) -> Any:
    # COUNT(*) FILTER (WHERE …): both databases have it, and SQLite runs it faster than
    # SUM(CASE …); a predicate that is NULL counts nothing.
    return func.count().filter(predicate)


def _members(ranked: Ranked, province_code: int) -> tuple[Any, Any, ColumnElement[bool]]:
    """The code, the name and the rows of the set being ranked."""
    if ranked is Ranked.AGENCIES:
        # An inactive agency keeps its history but is no longer ranked.
        return Unit.code, Unit.name, Unit.active.is_(True)
    return Commune.code, Commune.name, Commune.province_code == str(province_code)


# PostgreSQL: the roll-up with medians is this many statements' work, one per range of commune
# codes, joined by UNION ALL. An ordered-set aggregate has no partial form, so one GROUP BY over
# every commune runs in one process; separate branches run side by side under a Parallel
# Append (PostgreSQL gives a query 2 parallel workers by default). On a million assignments and
# 2 cores, medians of 8 alternating rounds: 1.00 s as one statement, 0.67 s as two ranges, 0.70
# s as three.
PARTS = 2


def code_ranges(province_code: int, parts: int) -> list[list[ColumnElement[bool]]]:
    """`parts` ranges of commune codes, each holding as many of the province's communes, that
    together hold every code (an agency's, letters first, falls in the last)."""
    codes = [c.code for c in communes_of_province(province_code)]
    edges = [codes[len(codes) * i // parts] for i in range(1, parts)]
    lower: list[str | None] = [None, *edges]
    upper: list[str | None] = [*edges, None]
    return [
        [
            *([Assignment.commune_code >= low] if low is not None else []),
            *([Assignment.commune_code < high] if high is not None else []),
        ]
        for low, high in zip(lower, upper, strict=True)
    ]


def rollup_query(
    period: Period,
    as_of: datetime,
    with_medians: bool = True,
    province_code: int = DAK_LAK,
    ranked: Ranked = Ranked.COMMUNES,
    dialect: str = "sqlite",
) -> Any:
    """Every member of the set ranked (the province's communes, or its active agencies) with
    its figures for the period, in one statement: every count in one pass over the covering
    index (the timeline's figures read the event counts each assignment's row keeps), and
    (with_medians) the two medians, which sort every value and cost more than all the rest.
    On PostgreSQL (`dialect`) the medians are aggregates of the counts' pass, over PARTS ranges
    of the communes' codes side by side; on SQLite, window functions over passes of their
    own."""
    code, name, members = _members(ranked, province_code)
    rows = _rows()
    one_pass = with_medians and _in_one_pass(dialect)
    counted = (*EVENT_FIELDS, *EVENT_TOTALS, "judged")
    totals_select = select(
        Assignment.commune_code,
        func.count().label("received"),
        *(
            _counted(predicate(rows)).label(name)
            for name, predicate in ALL_FIELDS.items()
            if name not in ("received", "escalated")
        ),
        *(func.sum(getattr(Assignment, column)).label(column) for column in EVENT_TOTALS),
    ).where(*_in_period(period))
    if one_pass:
        totals_select = totals_select.add_columns(
            *(_lower_median(*span).label(key) for key, span in zip(MEDIANS, _spans(), strict=True))
        )
    if one_pass and ranked is Ranked.COMMUNES:
        totals = union_all(
            *(
                totals_select.where(*bounds).group_by(Assignment.commune_code)
                for bounds in code_ranges(province_code, PARTS)
            )
        ).subquery("totals")
    else:
        totals = totals_select.group_by(Assignment.commune_code).subquery("totals")
    escalated = sum(
        (
            func.coalesce(totals.c[name], 0)
            for name in ("escalated_level_1", "escalated_level_2", "escalated_level_3_plus")
        ),
        start=literal(0),
    )
    columns: list[Any] = [
        code.label("commune_code"),
        name,
        *(
            (escalated if name == "escalated" else func.coalesce(totals.c[name], 0)).label(name)
            for name in FIELDS
        ),
        *(func.coalesce(totals.c[name], 0).label(name) for name in counted),
    ]
    query = (
        select(*columns)
        .outerjoin(totals, totals.c.commune_code == code)
        .where(members)
        .order_by(code)
    )
    if one_pass:
        query = query.add_columns(*(totals.c[key].label(key) for key in MEDIANS))
    elif with_medians:
        ack, done = _medians(period, None)
        query = (
            query.add_columns(ack.c.median.label(MEDIANS[0]), done.c.median.label(MEDIANS[1]))
            .outerjoin(ack, ack.c.commune_code == code)
            .outerjoin(done, done.c.commune_code == code)
        )
    return query


def _medians(period: Period, commune_code: str | None) -> tuple[Any, Any]:
    """SQLite: the two medians per commune, each a subquery of its own."""
    only = [] if commune_code is None else [Assignment.commune_code == commune_code]
    (ack_at, acked), (reported_at, completed) = _spans()
    ack = _median(
        period,
        seconds_between(ack_at, Assignment.issued_at),
        and_(acked, *only),
        "ack_median",
    )
    done = _median(
        period,
        seconds_between(reported_at, Assignment.issued_at),
        and_(completed, *only),
        "completion_median",
    )
    return ack, done


def medians(session: Session, period: Period, commune_code: str) -> dict[str, float | None]:
    """One commune's two medians (seconds from issue to acknowledgement, and to the report
    of a completed assignment): a sort of that commune's values only."""
    if _in_one_pass(session.get_bind().dialect.name):
        query = select(*(_lower_median(*span) for span in _spans())).where(
            *_in_period(period), Assignment.commune_code == commune_code
        )
    else:
        ack, done = _medians(period, commune_code)
        query = select(
            select(ack.c.median).scalar_subquery().label(MEDIANS[0]),
            select(done.c.median).scalar_subquery().label(MEDIANS[1]),
        )
    row = session.execute(query).one()
    return {
        key: round(float(value), 1) if value is not None else None
        for key, value in zip(MEDIANS, row, strict=True)
    }


def rollup(
    session: Session,
    period: Period,
    as_of: datetime,
    with_medians: bool = False,
    ranked: Ranked = Ranked.COMMUNES,
) -> dict[str, dict[str, Any]]:
    """{code: {figure: value}} for every commune of the province, or every active agency."""
    result: dict[str, dict[str, Any]] = {}
    dialect = session.get_bind().dialect.name
    query = rollup_query(period, as_of, with_medians, ranked=ranked, dialect=dialect)
    for row in session.execute(query).mappings():
        figures = {
            k: (int(v) if k in ALL_FIELDS or k in EVENT_TOTALS else v) for k, v in row.items()
        }
        for key in MEDIANS:
            if figures.get(key) is not None:
                figures[key] = round(float(figures[key]), 1)
        result[row["commune_code"]] = figures
    return result


def agency_rollup(session: Session, period: Period, as_of: datetime) -> dict[str, dict[str, Any]]:
    """{agency_code: {figure: value}} for every active agency: the assignments' source as
    the agencies' ranking reads it."""
    return rollup(session, period, as_of, ranked=Ranked.AGENCIES)


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
    rows = _rows()
    condition = _holds(ALL_FIELDS[counted](rows))
    if excluded is not None:
        condition = and_(condition, ~_holds(ALL_FIELDS[excluded](rows)))
    found = session.execute(
        select(
            Assignment.id.label("assignment_id"), Assignment.directive_id, Assignment.commune_code
        )
        .where(*_in_period(period), Assignment.commune_code == commune_code, condition)
        .order_by(Assignment.directive_id)
    )
    return [
        {
            "assignment_id": row.assignment_id,
            "directive_id": row.directive_id,
            "commune_code": row.commune_code,
        }
        for row in found
    ]
