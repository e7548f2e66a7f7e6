"""The figures of indicators that compute themselves from the product's own records, as of the
last day of each month: one query per indicator, grouped by month (and by commune for a
commune's series), then summed month after month here.

What each figure counts is defined once, in scoring/indicators.py, where the published scores
count with it:

- `dossiers_on_time`: the dossiers that ended (result ready, or refused) from the series' start
  to the month's last day, and the share of them in time (early or on time, as the portals'
  "đúng hạn" counts).
- `feedback_answered_in_time`: the feedback whose answer was due from the series' start to the
  month's last day and that the stored state has judged (answered, or unanswered and
  escalated), and the share answered on time. An answer on time came before its due time, so
  it was on time as of that day too.
- `communes_all_accepted`: the communes of the province with at least one assignment due from
  the series' start to the month's last day, all of them completed (the office accepted the
  report) by the close of that day; recalled directives' cancelled assignments count for
  nobody.

A month's last day closes at 24:00 in Asia/Ho_Chi_Minh; months are read as a CASE over their
closing moments, so SQLite and PostgreSQL group them alike and no time zone function is
needed in SQL."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, null, select

from db.communes import DAK_LAK
from db.models import Assignment, Commune, Dossier, Feedback
from scoring.indicators import (
    DOSSIER_FIELDS,
    FEEDBACK_ANSWERED_ON_TIME,
    dossier_finished_at,
    dossiers_finished_in,
    feedback_judged_in,
)
from vocabulary.calendar import VIETNAM
from vocabulary.directives import AssignmentStatus
from vocabulary.indicators import IndicatorScope, IndicatorSource


@dataclass(frozen=True)
class SourcePoint:
    """One computed value: `value` of the series `unit_code` (None: the province's) as of the
    close of `as_of`, from `part` of `whole` records."""

    unit_code: str | None
    as_of: date
    value: float
    part: int
    whole: int


def month_ends(start: date, today: date) -> list[date]:
    """The last days of the months from `start`'s month on that are over before `today`."""
    ends: list[date] = []
    year, month = start.year, start.month
    while True:
        last = date(year, month, calendar.monthrange(year, month)[1])
        if last >= today:
            return ends
        ends.append(last)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def closing(day: date) -> datetime:
    """The moment `day` is over in Vietnam: 00:00 of the next day there."""
    return datetime.combine(day + timedelta(days=1), time(0), VIETNAM)


def _month(column: Any, ends: list[date]) -> ColumnElement[int]:
    """The index of the month `column` falls in: the first month whose close comes after it
    (len(ends) when none does)."""
    return case(
        *((column < closing(end), index) for index, end in enumerate(ends)), else_=len(ends)
    )


def source_query(
    source: IndicatorSource, scope: IndicatorScope, start: date, ends: list[date]
) -> Select[Any]:
    """The one query of a computed indicator over the months `ends` (not empty), from the
    opening of `start`: rows of (commune or None, month index, whole, part) for the shares;
    (commune, month due, latest month completed) for the communes all accepted.

    Each record's month is read in a subquery and grouped on outside: PostgreSQL binds the
    CASE's moments anew wherever it is written, and would not see the select's CASE and the
    GROUP BY's as one expression."""
    opens = datetime.combine(start, time(0), VIETNAM)
    closes = closing(ends[-1])
    if source is IndicatorSource.COMMUNES_ALL_ACCEPTED:
        completed = and_(
            Assignment.status == AssignmentStatus.COMPLETED.value,
            Assignment.completed_at < closes,
        )
        done = case((completed, _month(Assignment.completed_at, ends)), else_=len(ends))
        tasks = (
            select(
                Assignment.commune_code.label("unit"),
                _month(Assignment.deadline, ends).label("month"),
                done.label("done"),
            )
            .join(Commune, Commune.code == Assignment.commune_code)
            .where(
                Commune.province_code == str(DAK_LAK),
                Assignment.status != AssignmentStatus.CANCELLED.value,
                Assignment.deadline >= opens,
                Assignment.deadline < closes,
            )
            .subquery()
        )
        return select(tasks.c.unit, tasks.c.month, func.max(tasks.c.done)).group_by(
            tasks.c.unit, tasks.c.month
        )
    commune: Any
    moment: Any
    if source is IndicatorSource.DOSSIERS_ON_TIME:
        commune, moment = Dossier.commune_code, dossier_finished_at()
        counted, where = DOSSIER_FIELDS["dossiers_in_time"], dossiers_finished_in(opens, closes)
    elif source is IndicatorSource.FEEDBACK_ANSWERED_IN_TIME:
        commune, moment = Feedback.commune_code, Feedback.answer_due_at
        counted, where = FEEDBACK_ANSWERED_ON_TIME, feedback_judged_in(opens, closes)
    else:
        raise ValueError(f"{source.value} is not computed")
    unit = commune if scope is IndicatorScope.COMMUNE else null()
    records = (
        select(
            unit.label("unit"),
            _month(moment, ends).label("month"),
            case((counted, 1), else_=0).label("counted"),
        )
        .where(where)
        .subquery()
    )
    return select(
        records.c.unit, records.c.month, func.count(), func.sum(records.c.counted)
    ).group_by(records.c.unit, records.c.month)


def source_points(
    source: IndicatorSource, ends: list[date], rows: list[tuple[Any, ...]]
) -> list[SourcePoint]:
    """The points of `source_query`'s rows, month after month: a share counts everything from
    the series' start (a month where nothing counts yet has no point); the communes all
    accepted are counted every month, 0 included."""
    if source is IndicatorSource.COMMUNES_ALL_ACCEPTED:
        return _communes_all_accepted(ends, rows)
    by_unit: dict[str | None, dict[int, tuple[int, int]]] = defaultdict(dict)
    for unit, month, whole, part in rows:
        by_unit[unit][int(month)] = (int(whole), int(part))
    points = []
    for unit in sorted(by_unit, key=lambda u: u or ""):
        whole = part = 0
        for index, end in enumerate(ends):
            month_whole, month_part = by_unit[unit].get(index, (0, 0))
            whole, part = whole + month_whole, part + month_part
            if whole:
                points.append(SourcePoint(unit, end, round(100 * part / whole, 2), part, whole))
    return points


def _communes_all_accepted(ends: list[date], rows: list[tuple[Any, ...]]) -> list[SourcePoint]:
    # Per commune: for each month with assignments due, the latest month one of them was
    # completed in (len(ends): not by the last month's close).
    latest_done: dict[str, dict[int, int]] = defaultdict(dict)
    for commune, due, done in rows:
        latest_done[commune][int(due)] = int(done)
    points = []
    for index, end in enumerate(ends):
        due_so_far = met = 0
        for months in latest_done.values():
            owed = [done for due, done in months.items() if due <= index]
            if owed:
                due_so_far += 1
                met += max(owed) <= index
        points.append(SourcePoint(None, end, float(met), met, due_so_far))
    return points
