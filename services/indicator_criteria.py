"""The commune criteria board: for a group's commune-scoped indicators (its criteria, by code), a
matrix of the province's 102 communes × criteria, each cell the commune's latest accepted value,
its as-of date, whether it meets the criterion and the colour services/indicators judges that
commune's series; per commune the number met, whether it meets them all (fully green) and its
rank; and the totals.

What "met" means is scoring/criteria.py's (the scorecard's `criteria_met` counts with the same
rule), judged against the milestone in force today: the next one, the last once all have passed.
The latest values are one SQL statement over the group; the colours are services/indicators' own
judgement, called as a pure function on the group's values loaded in one more query.

Ranking is standard competition ranking on the number met ("1, 2, 2, 4"): communes meeting as
many criteria share a rank and the next rank skips; within a tie, rows are listed by commune
code. The day of judgement is passed in (`now`), never read here."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.communes import DAK_LAK
from db.models import Commune
from db.models.indicators import IndicatorMilestone, IndicatorValue
from scoring.criteria import (
    Target,
    criteria_query,
    criterion_met,
    latest_values,
    latest_values_query,
    milestones_query,
)
from scoring.periods import vietnam_today
from services.errors import NotFound
from services.indicator_schemas import MilestonePublic, target_text

# services/indicators' series judgement, called on data loaded here: the colour of a commune's
# cell is the very colour GET /indicators/{code} shows for its series.
from services.indicators import LoadedIndicator, series_statuses
from services.principals import Principal
from vocabulary.indicators import Colour, Direction, IndicatorKind, ReportingRhythm
from vocabulary.roles import Role


class CriterionPublic(BaseModel):
    code: str
    name: str
    kind: IndicatorKind
    direction: Direction
    rhythm: ReportingRhythm
    unit_of_measure: str
    milestone: MilestonePublic | None = Field(
        description="The milestone in force today, whose target a value must meet"
    )


class CriterionCell(BaseModel):
    code: str = Field(description="The criterion's code")
    value: float | None = Field(description="The latest accepted value; None: none yet")
    as_of: date | None
    met: bool
    colour: Colour = Field(description="The colour of this commune's series of the criterion")


class CommuneCriteria(BaseModel):
    commune_code: str
    name: str
    rank: int = Field(description="By the number met; equal numbers share a rank (1, 2, 2, 4)")
    met: int = Field(description="Criteria met")
    of: int = Field(description="Criteria of the group")
    fully_green: bool = Field(description="Every criterion of the group met")
    cells: list[CriterionCell] = Field(description="One per criterion, in the criteria's order")


class CriteriaTotals(BaseModel):
    communes: int = Field(description="Communes of the province")
    fully_green: int = Field(description="Communes meeting every criterion")
    met_by_criterion: dict[str, int] = Field(description="Criterion code → communes meeting it")


class CriteriaBoard(BaseModel):
    group: str
    today: date
    criteria: list[CriterionPublic] = Field(description="The group's commune criteria, by code")
    totals: CriteriaTotals = Field(description="Over the whole province, whoever asks")
    count: int
    communes: list[CommuneCriteria] = Field(
        description="Best first (rank, then commune code); a commune leader's own row only"
    )


def _target(milestone: MilestonePublic | None) -> Target | None:
    if milestone is None:
        return None
    return Target(milestone.date, milestone.target_low, milestone.target_high)


def _ranked(rows: list[CommuneCriteria]) -> list[CommuneCriteria]:
    """Standard competition ranking on the number met; ties listed by commune code."""
    ordered = sorted(rows, key=lambda r: (-r.met, r.commune_code))
    previous: int | None = None
    previous_rank = 0
    for position, row in enumerate(ordered, start=1):
        if row.met != previous:
            previous, previous_rank = row.met, position
        row.rank = previous_rank
    return ordered


async def criteria_board(
    session: AsyncSession, user: Principal, group: str, now: datetime
) -> CriteriaBoard:
    """The board of a group's commune criteria (see the module's docstring). Five queries
    whatever the number of criteria: the criteria, their milestones, the communes, the latest
    accepted values and the values behind the colours."""
    today = vietnam_today(now)
    criteria = list(await session.scalars(criteria_query(group)))
    if not criteria:
        raise NotFound(f"the group {group!r} has no commune-scoped indicator")
    codes = [c.code for c in criteria]
    milestones: dict[str, list[IndicatorMilestone]] = defaultdict(list)
    for m in await session.scalars(milestones_query(codes)):
        milestones[m.indicator_code].append(m)
    names = {
        code: name
        for code, name in await session.execute(
            select(Commune.code, Commune.name)
            .where(Commune.province_code == str(DAK_LAK))
            .order_by(Commune.code)
        )
    }
    latest = latest_values(list(await session.execute(latest_values_query(codes))))
    values: dict[str, list[IndicatorValue]] = defaultdict(list)
    for v in await session.scalars(
        select(IndicatorValue)
        .where(IndicatorValue.indicator_code.in_(codes))
        .order_by(IndicatorValue.id)
    ):
        values[v.indicator_code].append(v)

    public: list[CriterionPublic] = []
    cells: dict[str, list[CriterionCell]] = defaultdict(list)
    for criterion in criteria:
        loaded = LoadedIndicator(criterion, milestones[criterion.code], values[criterion.code])
        in_force, series = series_statuses(loaded, names, today)
        milestone = (
            MilestonePublic(
                date=in_force.due_on,
                target=target_text(in_force.target_low, in_force.target_high),
                target_low=in_force.target_low,
                target_high=in_force.target_high,
            )
            if in_force is not None
            else None
        )
        kind, direction = IndicatorKind(criterion.kind), Direction(criterion.direction)
        public.append(
            CriterionPublic(
                code=criterion.code,
                name=criterion.name,
                kind=kind,
                direction=direction,
                rhythm=ReportingRhythm(criterion.rhythm),
                unit_of_measure=criterion.unit_of_measure,
                milestone=milestone,
            )
        )
        for status in series:
            assert status.unit_code is not None  # a commune-scoped series
            found = latest.get((criterion.code, status.unit_code))
            value = found.value if found is not None else None
            cells[status.unit_code].append(
                CriterionCell(
                    code=criterion.code,
                    value=value,
                    as_of=found.as_of if found is not None else None,
                    met=criterion_met(kind, direction, _target(milestone), value),
                    colour=status.colour,
                )
            )

    rows = _ranked(
        [
            CommuneCriteria(
                commune_code=code,
                name=name,
                rank=0,
                met=sum(1 for c in cells[code] if c.met),
                of=len(criteria),
                fully_green=all(c.met for c in cells[code]),
                cells=cells[code],
            )
            for code, name in names.items()
        ]
    )
    totals = CriteriaTotals(
        communes=len(rows),
        fully_green=sum(1 for r in rows if r.fully_green),
        met_by_criterion={
            code: sum(1 for r in rows if r.cells[place].met) for place, code in enumerate(codes)
        },
    )
    if user.role is Role.COMMUNE_LEADER:
        # A leader sees their own commune's row, ranked among all; the totals name no commune.
        rows = [r for r in rows if r.commune_code == user.commune_code]
    return CriteriaBoard(
        group=group, today=today, criteria=public, totals=totals, count=len(rows), communes=rows
    )
