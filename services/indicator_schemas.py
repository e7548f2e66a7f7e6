"""Request and response bodies of the province's indicators: the indicator with its milestones,
the values reported against it, its colour against the next milestone, the board and the
"what if" scenario. Requests refuse unknown fields, as every request of API v1 does."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

from services.schemas import Request
from vocabulary.indicators import (
    Colour,
    Direction,
    IndicatorKind,
    IndicatorScope,
    IndicatorSource,
    ReportingRhythm,
)

INDICATOR_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
MAX_MILESTONES = 50
# Figures the province writes stay far inside these; beyond them a float loses whole units.
MAX_FIGURE = 1e12
MAX_PACE = 1e9
# Indicators run over years, not centuries: a date outside this range is a typing error.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
# "51", "51,5", "51–52", "51-52" (a hyphen or an en dash between the ends of a range).
_TARGET = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(?:[–-]\s*(-?\d+(?:[.,]\d+)?))?\s*$")

Figure = Annotated[float, Field(ge=-MAX_FIGURE, le=MAX_FIGURE, allow_inf_nan=False)]
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
Note = Annotated[str, Field(max_length=2000)]


class ValueStatus(StrEnum):
    """A reported value waits for the office (submitted); only an accepted one counts."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"


def parse_target(target: float | str) -> tuple[float, float]:
    """A milestone's target as (low, high): a number, or a range written "51–52" or "51-52"."""
    if isinstance(target, int | float):
        return float(target), float(target)
    found = _TARGET.match(target)
    if found is None:
        raise ValueError(f'"{target}" is not a target: write a number or a range such as 51–52')
    low = float(found[1].replace(",", "."))
    high = low if found[2] is None else float(found[2].replace(",", "."))
    if low > high:
        raise ValueError(f'the range "{target}" runs from high to low; write it low to high')
    return low, high


def target_text(low: float, high: float) -> str:
    """A target as people write it: 80, 51–52."""
    return _figure(low) if low == high else f"{_figure(low)}–{_figure(high)}"


def _figure(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


class MilestoneIn(Request):
    date: Day
    target: Annotated[float, Field(allow_inf_nan=False)] | Annotated[str, Field(max_length=50)] = (
        Field(description='A number, or a range written "51–52" or "51-52"')
    )

    @field_validator("target")
    @classmethod
    def _target(cls, value: float | str) -> float | str:
        low, high = parse_target(value)
        if max(abs(low), abs(high)) > MAX_FIGURE:
            raise ValueError(f"a target lies within ±{MAX_FIGURE:g}")
        return value


def _milestones_once(milestones: list[MilestoneIn]) -> list[MilestoneIn]:
    days = [m.date for m in milestones]
    twice = sorted({d for d in days if days.count(d) > 1})
    if twice:
        raise ValueError(f"one milestone a day: {', '.join(map(str, twice))} is given twice")
    return sorted(milestones, key=lambda m: m.date)


Milestones = Annotated[list[MilestoneIn], Field(max_length=MAX_MILESTONES)]


class IndicatorCreate(Request):
    code: str = Field(
        min_length=1,
        max_length=40,
        description="Letters, digits, '.', '_' or '-'; it never changes",
        json_schema_extra={"pattern": INDICATOR_CODE_PATTERN},
    )
    name: str = Field(min_length=1, max_length=500)
    kind: IndicatorKind
    direction: Direction = Direction.INCREASE
    scope: IndicatorScope = IndicatorScope.PROVINCE
    rhythm: ReportingRhythm = ReportingRhythm.MONTHLY
    unit_of_measure: str = Field(default="", max_length=100, description='"%", "hồ sơ", "hạng"')
    group: str = Field(default="", max_length=200, description='"Kế hoạch 02 giai đoạn 2"')
    responsible: str = Field(
        default="", max_length=300, description="The responsible unit's code, or a leader's name"
    )
    baseline_value: Figure | None = None
    baseline_on: Day | None = None
    milestones: Milestones = Field(default_factory=list)
    source: IndicatorSource = Field(
        default=IndicatorSource.REPORTED,
        description="reported by the units, or computed from the product's own records "
        "(dossiers_on_time and feedback_answered_in_time: a percent, province or commune; "
        "communes_all_accepted: a count, province)",
    )

    @field_validator("milestones")
    @classmethod
    def _milestones(cls, value: list[MilestoneIn]) -> list[MilestoneIn]:
        return _milestones_once(value)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if re.fullmatch(INDICATOR_CODE_PATTERN, value) is None:
            raise ValueError(f'"{value}" is not an indicator code: letters, digits, ".", "_", "-"')
        return value


# Fields a PATCH may leave out but not set to null.
_NOT_NULL = (
    "name", "direction", "rhythm", "unit_of_measure", "group", "responsible", "milestones",
    "source",
)  # fmt: skip


class IndicatorUpdate(Request):
    """The fields to change; `milestones` replaces them all. A change of the milestones or the
    direction makes a new version. The kind and the scope never change: the values reported
    already were reported as that kind, for those units."""

    name: str | None = Field(default=None, min_length=1, max_length=500)
    direction: Direction | None = None
    rhythm: ReportingRhythm | None = None
    unit_of_measure: str | None = Field(default=None, max_length=100)
    group: str | None = Field(default=None, max_length=200)
    responsible: str | None = Field(default=None, max_length=300)
    baseline_value: Figure | None = None
    baseline_on: Day | None = None
    milestones: Milestones | None = None
    source: IndicatorSource | None = None

    @field_validator("milestones")
    @classmethod
    def _milestones(cls, value: list[MilestoneIn] | None) -> list[MilestoneIn] | None:
        return None if value is None else _milestones_once(value)

    @model_validator(mode="after")
    def _no_null_where_a_value_is_needed(self) -> IndicatorUpdate:
        nulls = [f for f in _NOT_NULL if f in self.model_fields_set and getattr(self, f) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; leave it out to keep it")
        return self


class MilestonePublic(BaseModel):
    date: date
    target: str = Field(description="As written: 80, 51–52")
    target_low: float
    target_high: float


class IndicatorPublic(BaseModel):
    code: str
    name: str
    kind: IndicatorKind
    direction: Direction
    scope: IndicatorScope
    rhythm: ReportingRhythm
    unit_of_measure: str
    group: str
    responsible: str
    baseline_value: float | None
    baseline_on: date | None
    version: int
    milestones: list[MilestonePublic]
    created_at: datetime
    updated_at: datetime
    source: IndicatorSource = Field(
        description="reported, or the product's own records it is computed from"
    )
    source_vi: str = Field(description="Where the figures come from, in Vietnamese")
    source_en: str = Field(description="Where the figures come from")


class IndicatorsPublic(BaseModel):
    data: list[IndicatorPublic]
    count: int


class ValueCreate(Request):
    unit_code: str | None = Field(
        default=None,
        max_length=8,
        description="The commune or agency the value is for; none for a province's indicator "
        "(a commune leader's own commune when left out)",
    )
    as_of: Day
    value: Figure
    evidence: str = Field(default="", max_length=4000, description="Where the figure comes from")
    note: Note = ""
    supersedes: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The id of the value this one corrects"
    )


class VerifyDecision(StrEnum):
    ACCEPT = "accept"
    RETURN = "return"


class ValueVerify(Request):
    decision: VerifyDecision
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _a_return_says_why(self) -> ValueVerify:
        if self.decision is VerifyDecision.RETURN and not self.reason:
            raise ValueError("a returned value needs a reason the unit can act on")
        return self


class ValuePublic(BaseModel):
    id: int
    indicator_code: str
    unit_code: str | None
    as_of: date
    value: float
    evidence: str
    note: str
    status: ValueStatus
    return_reason: str | None
    reported_by: str
    reported_at: datetime
    verified_by: str | None
    verified_at: datetime | None
    supersedes: int | None
    superseded_by: int | None = Field(description="The accepted value that corrects this one")
    counts: bool = Field(description="Accepted and not corrected: the status is judged on it")


class PeriodPublic(BaseModel):
    first_day: date
    last_day: date


class SeriesStatus(BaseModel):
    """One series against the next milestone: the province's own, or one commune's or
    agency's."""

    unit_code: str | None
    unit_name: str | None
    colour: Colour
    met: bool
    latest_value: float | None
    latest_on: date | None
    projected_on: date | None
    pace_per_month: float | None
    pace_required_per_month: float | None
    days_left: int | None
    projected_from: list[date] = Field(description="The as-of dates the trend was drawn through")
    last_period: PeriodPublic = Field(description="The last reporting period that has ended")
    last_period_reported: bool
    reason_en: str
    reason_vi: str


class ColourCounts(BaseModel):
    red: int = 0
    yellow: int = 0
    grey: int = 0
    green: int = 0


class IndicatorStatus(IndicatorPublic):
    today: date
    next_milestone: MilestonePublic | None
    colour: Colour = Field(
        description="The worst of its series: red, then yellow, then grey, then green"
    )
    counts: ColourCounts = Field(description="Its series by colour")
    series: list[SeriesStatus]
    values: list[ValuePublic]


class BoardEntry(BaseModel):
    code: str
    name: str
    group: str
    colour: Colour
    next_milestone: MilestonePublic | None
    days_left: int | None
    responsible: str
    units: list[str] = Field(description="The communes or agencies whose series are red or yellow")
    reason_en: str
    reason_vi: str


class IndicatorBoard(BaseModel):
    group: str | None
    today: date
    counts: ColourCounts
    indicators: list[BoardEntry] = Field(
        description="Worst first: red, yellow, grey, green, then fewest days left"
    )
    attention: list[BoardEntry] = Field(description="The red and yellow ones, worst first")


class ScenarioRequest(Request):
    """Either a pace (the date it reaches the next milestone's target) or a date (the pace it
    needs); nothing is stored."""

    pace_per_month: float | None = Field(
        default=None, ge=-MAX_PACE, le=MAX_PACE, allow_inf_nan=False
    )
    target_date: Day | None = None
    unit_code: str | None = Field(
        default=None, max_length=8, description="The commune or agency, for one of theirs"
    )

    @model_validator(mode="after")
    def _one_question(self) -> ScenarioRequest:
        if (self.pace_per_month is None) == (self.target_date is None):
            raise ValueError("ask one question: pace_per_month or target_date")
        return self


class ScenarioAnswer(BaseModel):
    unit_code: str | None
    from_value: float
    from_on: date
    from_baseline: bool = Field(description="No accepted value yet: the baseline was the start")
    milestone: MilestonePublic
    threshold: float = Field(description="The figure that counts as met")
    pace_per_month: float
    projected_on: date | None = Field(description="None: that pace never reaches the target")
    meets_milestone: bool


class PeriodOpen(Request):
    """Open one reporting period; the one that ended last when no start is given."""

    period_start: Day | None = Field(
        default=None, description="The first day of the period (a month's, quarter's or year's)"
    )


class IndicatorPeriodPublic(BaseModel):
    indicator_code: str
    period_start: date
    period_end: date
    report_by: datetime = Field(description="The reporting tasks are due at this moment")
    directive_id: int | None = Field(description="The directive that carries the tasks, if any")
    tasks: int = Field(description="Reporting tasks opened: one per responsible commune")
    note: str = Field(default="", description="Why no tasks were opened, when none were")
    opened_by: str
    opened_at: datetime


class PeriodCounts(BaseModel):
    tasks: int
    reported: int = Field(description="A value is in: waiting for the office, or accepted")
    accepted: int
    late: int = Field(description="Reported after the report-by time")
    missing: int = Field(description="No value in yet, or returned and not sent again")


class IndicatorPeriodListed(IndicatorPeriodPublic):
    counts: PeriodCounts


class IndicatorPeriodsPublic(BaseModel):
    data: list[IndicatorPeriodListed] = Field(description="Newest period first")
    count: int
