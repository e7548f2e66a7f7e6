"""The commune criteria: whether a commune meets one criterion, the latest accepted value of every
(criterion, commune) in one query, and the scoring source `criteria` (rule set v6 on).

A criterion is a commune-scoped indicator of a group (the province's campaign for commune-level
digital transformation is `CRITERIA_GROUP`). A commune **meets** a criterion when its latest
accepted value (one no accepted correction replaced) meets the target of the milestone in force:
- `yes_no`: the value is 1, whatever the milestones say (a criterion's target is always 1);
- a number: at least the target when the indicator increases, at most when it decreases; a range
  (51–52) is met from its near end on (51 up when increasing, 52 down when decreasing), so a value
  within it counts, and so does one beyond it on the better side; with no milestone, nothing is met.
The milestone in force on a day is the first not yet past, the last once all have passed: the
"next milestone" the colours of services/indicators are judged against.

The source, per commune and period: `criteria`, the criteria of `CRITERIA_GROUP` that apply to it
at the period's end (an accepted value as of its last day, and for a number a milestone to meet),
and `criteria_met`, those of them met. A criterion the commune has not reported does not apply:
the reporting task behind it is an assignment, whose lateness the assignment indicators already
count, and a commune with nothing judged stays not rated, as under v5. Figures read stored state
only, never the clock: a recompute of a past period gives what the first computation gave, but
for a correction accepted since, which is what a correction is for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from db.communes import DAK_LAK
from db.models import Commune
from db.models.indicators import Indicator, IndicatorMilestone, IndicatorValue
from scoring.periods import Period
from vocabulary.indicators import Direction, IndicatorKind, IndicatorScope

# The group whose criteria the scorecard counts (v6's `criteria_met`).
CRITERIA_GROUP = "Tiêu chí chuyển đổi số cấp xã"
# services.indicator_schemas.ValueStatus.ACCEPTED: scoring sits below services and reads the word.
ACCEPTED = "accepted"
# The source's figures, as rule sets name them.
CRITERIA, CRITERIA_MET = "criteria", "criteria_met"


@dataclass(frozen=True)
class Target:
    """A milestone: its day and target, a range `low`–`high` (equal for a single number)."""

    due_on: date
    low: float
    high: float


@dataclass(frozen=True)
class LatestValue:
    """The latest accepted value of one commune's series of one criterion."""

    indicator_code: str
    commune_code: str
    value_id: int
    as_of: date
    value: float


def milestone_in_force(milestones: Sequence[Target], day: date) -> Target | None:
    """The first milestone on or after `day`; once all have passed, the last one."""
    ordered = sorted(milestones, key=lambda m: m.due_on)
    upcoming = [m for m in ordered if m.due_on >= day]
    if upcoming:
        return upcoming[0]
    return ordered[-1] if ordered else None


def criterion_met(
    kind: IndicatorKind, direction: Direction, milestone: Target | None, value: float | None
) -> bool:
    """Whether `value` meets the criterion (see the module's docstring for the rule)."""
    if value is None:
        return False
    if kind is IndicatorKind.YES_NO:
        return value == 1
    if milestone is None:
        return False
    if direction is Direction.INCREASE:
        return value >= milestone.low
    return value <= milestone.high


def applies(kind: IndicatorKind, milestone: Target | None, value: float | None) -> bool:
    """Whether a criterion can be judged for a commune: it reported, and a number has a target."""
    return value is not None and (kind is IndicatorKind.YES_NO or milestone is not None)


def criteria_query(group: str) -> Select[Indicator]:
    """The commune-scoped indicators of a group, by code."""
    return (
        select(Indicator)
        .where(Indicator.group == group, Indicator.scope == IndicatorScope.COMMUNE.value)
        .order_by(Indicator.code)
    )


def milestones_query(codes: Sequence[str]) -> Select[IndicatorMilestone]:
    return (
        select(IndicatorMilestone)
        .where(IndicatorMilestone.indicator_code.in_(codes))
        .order_by(IndicatorMilestone.indicator_code, IndicatorMilestone.due_on)
    )


def targets_by_code(rows: Sequence[IndicatorMilestone]) -> dict[str, list[Target]]:
    found: dict[str, list[Target]] = defaultdict(list)
    for m in rows:
        found[m.indicator_code].append(Target(m.due_on, m.target_low, m.target_high))
    return found


def latest_values_query(codes: Sequence[str], until: date | None = None) -> Select[Any]:
    """The latest accepted value of every (criterion, commune) of `codes`, as of `until` (all when
    None), in one statement: a window numbers each series' counting values newest first. A value
    an accepted correction replaced does not count; of two accepted for one day, the one reported
    last (the higher id) counts, as services/indicators reads a series."""
    correction = aliased(IndicatorValue)
    replaced = exists().where(
        correction.supersedes == IndicatorValue.id, correction.status == ACCEPTED
    )
    conditions = [
        IndicatorValue.indicator_code.in_(codes),
        IndicatorValue.unit_code.is_not(None),
        IndicatorValue.status == ACCEPTED,
        ~replaced,
    ]
    if until is not None:
        conditions.append(IndicatorValue.as_of <= until)
    place = (
        func.row_number()
        .over(
            partition_by=(IndicatorValue.indicator_code, IndicatorValue.unit_code),
            order_by=(IndicatorValue.as_of.desc(), IndicatorValue.id.desc()),
        )
        .label("place")
    )
    ranked = (
        select(
            IndicatorValue.indicator_code,
            IndicatorValue.unit_code,
            IndicatorValue.id,
            IndicatorValue.as_of,
            IndicatorValue.value,
            place,
        )
        .where(and_(*conditions))
        .subquery()
    )
    return (
        select(ranked.c.indicator_code, ranked.c.unit_code, ranked.c.id, ranked.c.as_of,
               ranked.c.value)
        .where(ranked.c.place == 1)
        .order_by(ranked.c.indicator_code, ranked.c.unit_code)
    )  # fmt: skip


def latest_values(rows: Sequence[Any]) -> dict[tuple[str, str], LatestValue]:
    """(criterion, commune) → its latest value, from the rows of `latest_values_query`."""
    return {
        (code, unit): LatestValue(code, unit, value_id, as_of, value)
        for code, unit, value_id, as_of, value in rows
    }


# --- the scoring source -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Judged:
    latest: LatestValue
    milestone: Target | None
    met: bool


def _judged(session: Session, day: date) -> dict[str, list[_Judged]]:
    """commune → the criteria of CRITERIA_GROUP that apply to it on `day`: three queries in all
    (criteria, milestones, latest values), whatever the number of criteria and communes."""
    criteria = list(session.scalars(criteria_query(CRITERIA_GROUP)))
    if not criteria:
        return {}
    codes = [c.code for c in criteria]
    targets = targets_by_code(list(session.scalars(milestones_query(codes))))
    latest = latest_values(list(session.execute(latest_values_query(codes, day))))
    by_code = {c.code: c for c in criteria}
    found: dict[str, list[_Judged]] = defaultdict(list)
    for (code, commune), value in latest.items():
        criterion = by_code[code]
        kind = IndicatorKind(criterion.kind)
        milestone = milestone_in_force(targets[code], day)
        if not applies(kind, milestone, value.value):
            continue
        met = criterion_met(kind, Direction(criterion.direction), milestone, value.value)
        found[commune].append(_Judged(value, milestone, met))
    return found


# What each figure counts, for the evidence as for the figures.
_FIGURES: dict[str, Callable[[_Judged], bool]] = {
    CRITERIA: lambda judged: True,
    CRITERIA_MET: lambda judged: judged.met,
}


def criteria_figures(
    session: Session, period: Period, as_of: datetime
) -> dict[str, dict[str, Any]]:
    """{commune: {criteria, criteria_met}} for every commune of the province, at the period's
    last day."""
    judged = _judged(session, period.last_day)
    communes = session.scalars(
        select(Commune.code).where(Commune.province_code == str(DAK_LAK)).order_by(Commune.code)
    )
    return {
        code: {
            CRITERIA: len(judged.get(code, [])),
            CRITERIA_MET: sum(1 for j in judged.get(code, []) if j.met),
        }
        for code in communes
    }


def criteria_behind(
    session: Session,
    period: Period,
    as_of: datetime,
    commune_code: str,
    counted: str,
    excluded: str | None,
) -> list[dict[str, Any]]:
    """The criteria a figure counts less those of another: the ones not met behind points lost,
    each named by the value that was judged."""

    counts = _FIGURES[counted]
    left_out = _FIGURES[excluded] if excluded is not None else None
    return [
        {
            "indicator_value_id": j.latest.value_id,
            "indicator_code": j.latest.indicator_code,
            "commune_code": commune_code,
            "as_of": j.latest.as_of.isoformat(),
            "value": j.latest.value,
            "target_low": j.milestone.low if j.milestone else None,
            "target_high": j.milestone.high if j.milestone else None,
        }
        for j in sorted(
            _judged(session, period.last_day).get(commune_code, []),
            key=lambda j: j.latest.indicator_code,
        )
        if counts(j) and not (left_out is not None and left_out(j))
    ]
