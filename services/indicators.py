"""The province's indicators as use cases: the office sets an indicator and its milestones,
values are reported against it (the office's count at once, a commune leader's wait for the
office's verification), and each indicator answers its colour against its next milestone, for
the province or for each commune or agency under it, with the pace behind it; the board ranks
them worst first, and the scenario answers "what if" without storing anything.

The day of judgement is passed in by the caller (`now`), never read here: a colour depends on
the day it is judged on, and a test names that day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.communes import DAK_LAK
from db.models import Commune as CommuneRow
from db.models import Unit as UnitRow
from db.models.indicators import Indicator, IndicatorMilestone, IndicatorValue
from scoring.indicator_pace import (
    IndicatorPace,
    IndicatorPaceInput,
    Milestone,
    date_at_pace,
    judge_pace,
    pace_for_date,
)
from scoring.indicator_sources import closing, month_ends, source_points, source_query
from scoring.periods import vietnam_today
from services.errors import Conflict, Forbidden, Invalid, NotFound, Refused
from services.indicator_schemas import (
    BoardEntry,
    ColourCounts,
    IndicatorBoard,
    IndicatorCreate,
    IndicatorPublic,
    IndicatorsPublic,
    IndicatorStatus,
    IndicatorUpdate,
    MilestoneIn,
    MilestonePublic,
    PeriodPublic,
    ScenarioAnswer,
    ScenarioRequest,
    SeriesStatus,
    ValueCreate,
    ValuePublic,
    ValueStatus,
    ValueVerify,
    VerifyDecision,
    parse_target,
    target_text,
)
from services.principals import Principal
from vocabulary.indicator_periods import ended_last
from vocabulary.indicators import (
    SOURCE_FITS,
    SOURCE_TEXT,
    Colour,
    Direction,
    IndicatorKind,
    IndicatorScope,
    IndicatorSource,
    ReportingRhythm,
)
from vocabulary.roles import Role

# Worst first: the board and an indicator's own colour read this order.
COLOUR_ORDER = (Colour.RED, Colour.YELLOW, Colour.GREY, Colour.GREEN)
_SEVERITY = {colour: place for place, colour in enumerate(COLOUR_ORDER)}


@dataclass(frozen=True)
class LoadedIndicator:
    """An indicator with its milestones and values, as `series_statuses` judges them (the
    criteria board loads many at once and judges each the same way)."""

    indicator: Indicator
    milestones: list[IndicatorMilestone]
    values: list[IndicatorValue]


# --- indicators -------------------------------------------------------------------------------


def _milestone_public(row: IndicatorMilestone) -> MilestonePublic:
    return MilestonePublic(
        date=row.due_on,
        target=target_text(row.target_low, row.target_high),
        target_low=row.target_low,
        target_high=row.target_high,
    )


def _public(row: Indicator, milestones: list[IndicatorMilestone]) -> IndicatorPublic:
    return IndicatorPublic(
        code=row.code,
        name=row.name,
        kind=IndicatorKind(row.kind),
        direction=Direction(row.direction),
        scope=IndicatorScope(row.scope),
        rhythm=ReportingRhythm(row.rhythm),
        unit_of_measure=row.unit_of_measure,
        group=row.group,
        responsible=row.responsible,
        baseline_value=row.baseline_value,
        baseline_on=row.baseline_on,
        version=row.version,
        milestones=[_milestone_public(m) for m in sorted(milestones, key=lambda m: m.due_on)],
        created_at=row.created_at,
        updated_at=row.updated_at,
        source=IndicatorSource(row.source),
        source_vi=SOURCE_TEXT[IndicatorSource(row.source)][0],
        source_en=SOURCE_TEXT[IndicatorSource(row.source)][1],
    )


def _check_rules(kind: IndicatorKind, direction: Direction, milestones: list[MilestoneIn]) -> None:
    if kind is IndicatorKind.RANK and direction is not Direction.DECREASE:
        raise Invalid("a rank is better when lower: its direction is decrease")
    if kind is IndicatorKind.YES_NO and any(parse_target(m.target) != (1, 1) for m in milestones):
        raise Invalid("a yes/no criterion's target is 1 (met)")


def _check_source(source: IndicatorSource, kind: IndicatorKind, scope: IndicatorScope) -> None:
    """A computed indicator is the figure its records give: a share is a percent of the
    province or of each commune, the communes all accepted a count of the province's."""
    if source is IndicatorSource.REPORTED:
        return
    fit_kind, fit_scopes = SOURCE_FITS[source]
    if kind is not fit_kind or scope not in fit_scopes:
        scopes = " or ".join(sorted(s.value for s in fit_scopes))
        raise Invalid(
            f"{source.value} is computed as a {fit_kind.value} for the {scopes} scope, "
            f"not a {kind.value} for the {scope.value} scope"
        )


def _milestone_rows(code: str, milestones: list[MilestoneIn]) -> list[IndicatorMilestone]:
    rows = []
    for m in milestones:
        low, high = parse_target(m.target)
        rows.append(
            IndicatorMilestone(indicator_code=code, due_on=m.date, target_low=low, target_high=high)
        )
    return rows


async def _milestones_of(session: AsyncSession, code: str) -> list[IndicatorMilestone]:
    rows = await session.scalars(
        select(IndicatorMilestone)
        .where(IndicatorMilestone.indicator_code == code)
        .order_by(IndicatorMilestone.due_on)
    )
    return list(rows)


async def _indicator(session: AsyncSession, code: str) -> Indicator:
    found = await session.get(Indicator, code)
    if found is None:
        raise NotFound(f"indicator {code} not found")
    return found


async def create_indicator(
    session: AsyncSession, payload: IndicatorCreate, now: datetime
) -> IndicatorPublic:
    """Add an indicator with its milestones (version 1)."""
    _check_rules(payload.kind, payload.direction, payload.milestones)
    _check_source(payload.source, payload.kind, payload.scope)
    existing = await session.get(Indicator, payload.code)
    if existing is not None:
        raise Conflict(f"the code {payload.code} is already taken, by {existing.name}")
    row = Indicator(
        code=payload.code,
        name=payload.name,
        kind=payload.kind.value,
        direction=payload.direction.value,
        scope=payload.scope.value,
        rhythm=payload.rhythm.value,
        unit_of_measure=payload.unit_of_measure,
        group=payload.group,
        responsible=payload.responsible,
        baseline_value=payload.baseline_value,
        baseline_on=payload.baseline_on,
        source=payload.source.value,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    # The indicator first: its milestones point at it.
    try:
        await session.flush()
        session.add_all(_milestone_rows(payload.code, payload.milestones))
        await session.commit()
    except IntegrityError as e:
        # Two offices adding the same code at once: the second is told, not answered with a 500.
        await session.rollback()
        raise Conflict(f"the code {payload.code} was given to another indicator just now") from e
    return _public(row, await _milestones_of(session, payload.code))


async def list_indicators(session: AsyncSession, group: str | None = None) -> IndicatorsPublic:
    """The indicators by group, then code."""
    query = select(Indicator).order_by(Indicator.group, Indicator.code)
    if group is not None:
        query = query.where(Indicator.group == group)
    rows = list(await session.scalars(query))
    milestones = await _milestones_by_code(session, [r.code for r in rows])
    data = [_public(r, milestones[r.code]) for r in rows]
    return IndicatorsPublic(data=data, count=len(data))


async def _milestones_by_code(
    session: AsyncSession, codes: list[str]
) -> dict[str, list[IndicatorMilestone]]:
    found: dict[str, list[IndicatorMilestone]] = defaultdict(list)
    if codes:
        rows = await session.scalars(
            select(IndicatorMilestone)
            .where(IndicatorMilestone.indicator_code.in_(codes))
            .order_by(IndicatorMilestone.due_on)
        )
        for m in rows:
            found[m.indicator_code].append(m)
    return found


async def update_indicator(
    session: AsyncSession, code: str, payload: IndicatorUpdate, now: datetime
) -> IndicatorPublic:
    """Change an indicator. New milestones, a new direction or a new source make a new
    version; the name, the group, the rhythm and the rest are corrections of the same
    version."""
    row = await _indicator(session, code)
    changes = payload.model_dump(exclude_unset=True)
    kind = IndicatorKind(row.kind)
    source = payload.source or IndicatorSource(row.source)
    _check_source(source, kind, IndicatorScope(row.scope))
    direction = payload.direction or Direction(row.direction)
    old = await _milestones_of(session, code)
    new_milestones = payload.milestones
    if new_milestones is not None:
        _check_rules(kind, direction, new_milestones)
    elif payload.direction is not None:
        _check_rules(kind, direction, [])
    # Another source is another series: a colour read before was judged on other figures.
    new_version = direction.value != row.direction or source.value != row.source
    if new_milestones is not None:
        before = [(m.due_on, m.target_low, m.target_high) for m in old]
        after = [(m.date, *parse_target(m.target)) for m in new_milestones]
        if before != after:
            new_version = True
            for m in old:
                await session.delete(m)
            # The old rows go first: a kept date is the same primary key.
            await session.flush()
            session.add_all(_milestone_rows(code, new_milestones))
    row.direction = direction.value
    row.source = source.value
    if payload.rhythm is not None:
        row.rhythm = payload.rhythm.value
    for field in ("name", "unit_of_measure", "group", "responsible"):
        if field in changes:
            setattr(row, field, changes[field])
    for field in ("baseline_value", "baseline_on"):
        if field in changes:
            setattr(row, field, changes[field])
    if new_version:
        row.version += 1
    row.updated_at = now
    await session.commit()
    return _public(row, await _milestones_of(session, code))


# --- values -----------------------------------------------------------------------------------


def _superseded(values: list[IndicatorValue]) -> dict[int, int]:
    """The corrected value's id → the accepted correction's id. A correction still waiting for
    the office, or returned, leaves the value it corrects standing."""
    return {
        v.supersedes: v.id
        for v in values
        if v.supersedes is not None and v.status == ValueStatus.ACCEPTED.value
    }


def _value_public(row: IndicatorValue, superseded: dict[int, int]) -> ValuePublic:
    superseded_by = superseded.get(row.id)
    return ValuePublic(
        id=row.id,
        indicator_code=row.indicator_code,
        unit_code=row.unit_code,
        as_of=row.as_of,
        value=row.value,
        evidence=row.evidence,
        note=row.note,
        status=ValueStatus(row.status),
        return_reason=row.return_reason,
        reported_by=row.reported_by,
        reported_at=row.reported_at,
        verified_by=row.verified_by,
        verified_at=row.verified_at,
        supersedes=row.supersedes,
        superseded_by=superseded_by,
        counts=row.status == ValueStatus.ACCEPTED.value and superseded_by is None,
    )


async def _values_of(session: AsyncSession, code: str) -> list[IndicatorValue]:
    rows = await session.scalars(
        select(IndicatorValue)
        .where(IndicatorValue.indicator_code == code)
        .order_by(IndicatorValue.id)
    )
    return list(rows)


async def _check_unit(session: AsyncSession, scope: IndicatorScope, unit_code: str | None) -> None:
    if scope is IndicatorScope.PROVINCE:
        if unit_code is not None:
            raise Invalid(
                "a province's indicator takes no unit_code: its values are the province's"
            )
        return
    if unit_code is None:
        raise Invalid(f"a {scope.value}-scoped indicator's series is named by a unit_code")
    if scope is IndicatorScope.COMMUNE:
        commune = await session.get(CommuneRow, unit_code)
        if commune is None or commune.province_code != str(DAK_LAK):
            raise Invalid(f"{unit_code} is not a commune of the province")
    elif await session.get(UnitRow, unit_code) is None:
        raise Invalid(f"{unit_code} is not an agency of the province")


def _check_figure(kind: IndicatorKind, value: float) -> None:
    if kind is IndicatorKind.YES_NO and value not in (0, 1):
        raise Invalid("a yes/no criterion takes the values 0 (not met) and 1 (met) only")
    if kind is IndicatorKind.PERCENT and not 0 <= value <= 100:
        raise Invalid(f"a percentage lies between 0 and 100, not {value:g}")
    if kind in (IndicatorKind.COUNT, IndicatorKind.RANK) and value != int(value):
        raise Invalid(f"a {kind.value} is a whole number, not {value:g}")
    if kind is IndicatorKind.RANK and not value >= 1:
        raise Invalid(f"a rank is 1 or more, not {value:g}")


def _check_one_a_day(
    values: list[IndicatorValue], candidate: IndicatorValue, superseded: dict[int, int]
) -> None:
    """One counting value per unit and day: a second one for the same day must correct the
    first, so the trend never holds two figures for one day."""
    for other in values:
        if (
            other.id != candidate.id
            and other.status == ValueStatus.ACCEPTED.value
            and other.id not in superseded
            and other.id != candidate.supersedes
            and other.unit_code == candidate.unit_code
            and other.as_of == candidate.as_of
        ):
            raise Conflict(
                f"value {other.id} already counts for {candidate.as_of}: "
                f"send a correction that supersedes it"
            )


async def record_value(
    session: AsyncSession, user: Principal, code: str, payload: ValueCreate, now: datetime
) -> ValuePublic:
    """Record one value. The steering office's counts at once (accepted); a commune leader's,
    for their own commune on a commune-scoped indicator, waits for the office (submitted). A
    correction is a new value naming the one it supersedes; the old one is never changed."""
    row = await _indicator(session, code)
    if row.source != IndicatorSource.REPORTED.value:
        raise Conflict(
            f"indicator {code} computes itself ({row.source}): "
            f"{SOURCE_TEXT[IndicatorSource(row.source)][1]}; no value is reported for it"
        )
    scope = IndicatorScope(row.scope)
    unit_code = payload.unit_code
    if user.role is Role.COMMUNE_LEADER:
        if scope is not IndicatorScope.COMMUNE:
            raise Forbidden("a commune leader reports on commune-scoped indicators only")
        unit_code = user.commune_filter(unit_code)
    elif user.role is not Role.STEERING_OFFICE:
        raise Forbidden("the steering office and commune leaders report values")
    await _check_unit(session, scope, unit_code)
    _check_figure(IndicatorKind(row.kind), payload.value)
    if payload.as_of > vietnam_today(now):
        raise Invalid(f"a value as of {payload.as_of} is not known yet")
    values = await _values_of(session, code)
    superseded = _superseded(values)
    if payload.supersedes is not None:
        _check_correction(values, superseded, payload.supersedes, unit_code)
    by_office = user.role is Role.STEERING_OFFICE
    value = IndicatorValue(
        indicator_code=code,
        unit_code=unit_code,
        as_of=payload.as_of,
        value=payload.value,
        evidence=payload.evidence,
        note=payload.note,
        status=(ValueStatus.ACCEPTED if by_office else ValueStatus.SUBMITTED).value,
        reported_by=user.actor,
        reported_at=now,
        verified_by=user.actor if by_office else None,
        verified_at=now if by_office else None,
        supersedes=payload.supersedes,
    )
    # A leader's value is checked now too, so they learn at once, not at verification.
    _check_one_a_day(values, value, superseded)
    session.add(value)
    await session.commit()
    return _value_public(value, {})


def _check_correction(
    values: list[IndicatorValue],
    superseded: dict[int, int],
    corrected_id: int,
    unit_code: str | None,
) -> None:
    corrected = next((v for v in values if v.id == corrected_id), None)
    if corrected is None or corrected.unit_code != unit_code:
        raise Invalid(f"value {corrected_id} is not a value of this indicator for this unit")
    if corrected.status == ValueStatus.RETURNED.value:
        raise Invalid(
            f"value {corrected_id} was returned: it needs no correction, only a new value"
        )
    if corrected_id in superseded:
        raise Conflict(
            f"value {corrected_id} is already corrected by value {superseded[corrected_id]}"
        )


async def verify_value(
    session: AsyncSession,
    user: Principal,
    code: str,
    value_id: int,
    payload: ValueVerify,
    now: datetime,
) -> ValuePublic:
    """The office accepts a submitted value (from then on it counts) or returns it with a
    reason; a value is judged once."""
    await _indicator(session, code)
    values = await _values_of(session, code)
    value = next((v for v in values if v.id == value_id), None)
    if value is None:
        raise NotFound(f"value {value_id} of indicator {code} not found")
    if value.status != ValueStatus.SUBMITTED.value:
        raise Refused(f"value {value_id} is already {value.status}")
    superseded = _superseded(values)
    if payload.decision is VerifyDecision.ACCEPT:
        if value.supersedes is not None and value.supersedes in superseded:
            raise Conflict(
                f"value {value.supersedes} is already corrected by value "
                f"{superseded[value.supersedes]}"
            )
        _check_one_a_day(values, value, superseded)
        value.status = ValueStatus.ACCEPTED.value
    else:
        value.status = ValueStatus.RETURNED.value
        value.return_reason = payload.reason
    value.verified_by = user.actor
    value.verified_at = now
    await session.commit()
    return _value_public(value, _superseded(values))


# --- status -----------------------------------------------------------------------------------


def next_milestone(milestones: list[IndicatorMilestone], today: date) -> IndicatorMilestone | None:
    """The first milestone not yet past; once all have passed, the last one (judged as missed
    or met)."""
    ordered = sorted(milestones, key=lambda m: m.due_on)
    upcoming = [m for m in ordered if m.due_on >= today]
    if upcoming:
        return upcoming[0]
    return ordered[-1] if ordered else None


def _series_status(
    indicator: Indicator,
    milestone: IndicatorMilestone | None,
    unit_code: str | None,
    unit_name: str | None,
    counting: list[IndicatorValue],
    today: date,
) -> SeriesStatus:
    first_day, last_day = ended_last(ReportingRhythm(indicator.rhythm), today)
    reported = any(first_day <= v.as_of <= last_day for v in counting)
    period = PeriodPublic(first_day=first_day, last_day=last_day)
    if milestone is None:
        latest = max(counting, key=lambda v: v.as_of, default=None)
        return SeriesStatus(
            unit_code=unit_code,
            unit_name=unit_name,
            colour=Colour.GREY,
            met=False,
            latest_value=latest.value if latest else None,
            latest_on=latest.as_of if latest else None,
            projected_on=None,
            pace_per_month=None,
            pace_required_per_month=None,
            days_left=None,
            projected_from=[],
            last_period=period,
            last_period_reported=reported,
            reason_en="no milestone set",
            reason_vi="chưa đặt mốc",
        )
    target = (
        milestone.target_low
        if milestone.target_low == milestone.target_high
        else (milestone.target_low, milestone.target_high)
    )
    pace: IndicatorPace = judge_pace(
        IndicatorPaceInput(
            kind=IndicatorKind(indicator.kind),
            direction=Direction(indicator.direction),
            rhythm=ReportingRhythm(indicator.rhythm),
            values=tuple((v.as_of, v.value) for v in counting),
            milestone=Milestone(due_on=milestone.due_on, target=target),
            today=today,
            last_period_reported=reported,
        )
    )
    return SeriesStatus(
        unit_code=unit_code,
        unit_name=unit_name,
        colour=pace.colour,
        met=pace.met,
        latest_value=pace.latest_value,
        latest_on=pace.latest_on,
        projected_on=pace.projected_on,
        pace_per_month=pace.pace_per_month,
        pace_required_per_month=pace.pace_required_per_month,
        days_left=pace.days_left,
        projected_from=list(pace.projected_from),
        last_period=period,
        last_period_reported=reported,
        reason_en=pace.reason_en,
        reason_vi=pace.reason_vi,
    )


async def _unit_names(session: AsyncSession, scope: IndicatorScope) -> dict[str, str]:
    if scope is IndicatorScope.COMMUNE:
        rows = await session.execute(
            select(CommuneRow.code, CommuneRow.name)
            .where(CommuneRow.province_code == str(DAK_LAK))
            .order_by(CommuneRow.code)
        )
    elif scope is IndicatorScope.AGENCY:
        rows = await session.execute(select(UnitRow.code, UnitRow.name).order_by(UnitRow.code))
    else:
        return {}
    return {code: name for code, name in rows}


def series_statuses(
    loaded: LoadedIndicator, names: dict[str, str], today: date
) -> tuple[IndicatorMilestone | None, list[SeriesStatus]]:
    """Every series of an indicator: the province's one, each commune's (all of the province's,
    reported or not), or each agency's that reported or is the responsible one."""
    indicator = loaded.indicator
    superseded = _superseded(loaded.values)
    # One value per unit and day: two offices accepting a value for the same day at once pass
    # the check each alone; the one reported last counts, as a correction would.
    by_day: dict[tuple[str | None, date], IndicatorValue] = {}
    for v in loaded.values:
        if v.status == ValueStatus.ACCEPTED.value and v.id not in superseded:
            by_day[(v.unit_code, v.as_of)] = v
    counting: dict[str | None, list[IndicatorValue]] = defaultdict(list)
    for (unit_code, _), v in sorted(by_day.items(), key=lambda item: item[1].id):
        counting[unit_code].append(v)
    scope = IndicatorScope(indicator.scope)
    units: list[str | None]
    if scope is IndicatorScope.PROVINCE:
        units = [None]
    elif scope is IndicatorScope.COMMUNE:
        units = [*names]
    else:
        reported = {v.unit_code for v in loaded.values if v.unit_code is not None}
        if indicator.responsible in names:
            reported.add(indicator.responsible)
        units = [*sorted(reported)]
    milestone = next_milestone(loaded.milestones, today)
    series = [
        _series_status(
            indicator,
            milestone,
            unit,
            names.get(unit) if unit is not None else None,
            counting[unit],
            today,
        )
        for unit in units
    ]
    return milestone, series


def _counts(colours: list[Colour]) -> ColourCounts:
    return ColourCounts(**{c.value: colours.count(c) for c in COLOUR_ORDER})


def _worst(series: list[SeriesStatus]) -> SeriesStatus | None:
    """The series that gives the indicator its colour: the worst, and among equals the one
    with the fewest days left."""
    return min(
        series,
        key=lambda s: (_SEVERITY[s.colour], s.days_left if s.days_left is not None else 10**9),
        default=None,
    )


# The reporter a computed value names: no one reported it.
COMPUTED_BY = "computed"


def series_start(indicator: Indicator, milestones: list[IndicatorMilestone]) -> date | None:
    """Where a computed series starts: the baseline's day, or the first milestone's year."""
    if indicator.baseline_on is not None:
        return indicator.baseline_on
    first = min((m.due_on for m in milestones), default=None)
    return date(first.year, 1, 1) if first is not None else None


async def computed_values(
    session: AsyncSession,
    indicator: Indicator,
    milestones: list[IndicatorMilestone],
    today: date,
) -> list[IndicatorValue]:
    """A computed indicator's values as of the last day of each month from its series'
    start until today, from one query: accepted values that name no reporter but
    `computed`, never stored (their ids are negative, as no stored value's is)."""
    source = IndicatorSource(indicator.source)
    start = series_start(indicator, milestones)
    ends = month_ends(start, today) if start is not None else []
    if not ends:
        return []
    query = source_query(source, IndicatorScope(indicator.scope), start or ends[0], ends)
    rows = [tuple(r) for r in (await session.execute(query)).all()]
    what = SOURCE_TEXT[source][0]
    values = []
    for number, point in enumerate(source_points(source, ends, rows), start=1):
        closes = closing(point.as_of)
        values.append(
            IndicatorValue(
                id=-number,
                indicator_code=indicator.code,
                unit_code=point.unit_code,
                as_of=point.as_of,
                value=point.value,
                evidence=source.value,
                note=f"{point.part}/{point.whole} — {what}",
                status=ValueStatus.ACCEPTED.value,
                return_reason=None,
                reported_by=COMPUTED_BY,
                reported_at=closes,
                verified_by=COMPUTED_BY,
                verified_at=closes,
                supersedes=None,
            )
        )
    return values


async def load_values(
    session: AsyncSession,
    indicators: list[Indicator],
    milestones: dict[str, list[IndicatorMilestone]],
    today: date,
) -> dict[str, list[IndicatorValue]]:
    """The values each indicator is judged on: a reported one's stored values (in one query
    for all), a computed one's computed points (one query each)."""
    values: dict[str, list[IndicatorValue]] = defaultdict(list)
    reported = [i.code for i in indicators if i.source == IndicatorSource.REPORTED.value]
    if reported:
        for v in await session.scalars(
            select(IndicatorValue)
            .where(IndicatorValue.indicator_code.in_(reported))
            .order_by(IndicatorValue.id)
        ):
            values[v.indicator_code].append(v)
    for indicator in indicators:
        if indicator.source != IndicatorSource.REPORTED.value:
            values[indicator.code] = await computed_values(
                session, indicator, milestones.get(indicator.code, []), today
            )
    return values


async def _load(session: AsyncSession, code: str, today: date) -> LoadedIndicator:
    row = await _indicator(session, code)
    milestones = await _milestones_of(session, code)
    values = await load_values(session, [row], {code: milestones}, today)
    return LoadedIndicator(row, milestones, values[code])


async def read_indicator(session: AsyncSession, code: str, now: datetime) -> IndicatorStatus:
    """An indicator with its milestones and values, and its colour against the next milestone,
    series by series; only accepted values that no accepted correction replaced count."""
    today = vietnam_today(now)
    loaded = await _load(session, code, today)
    names = await _unit_names(session, IndicatorScope(loaded.indicator.scope))
    milestone, series = series_statuses(loaded, names, today)
    worst = _worst(series)
    superseded = _superseded(loaded.values)
    return IndicatorStatus(
        **_public(loaded.indicator, loaded.milestones).model_dump(),
        today=today,
        next_milestone=_milestone_public(milestone) if milestone else None,
        colour=worst.colour if worst else Colour.GREY,
        counts=_counts([s.colour for s in series]),
        series=series,
        values=[_value_public(v, superseded) for v in loaded.values],
    )


async def board(session: AsyncSession, group: str | None, now: datetime) -> IndicatorBoard:
    """Every indicator (of a group) with its colour, next milestone and days left, worst first:
    red, then yellow, then grey, then green, and within a colour the fewest days left."""
    today = vietnam_today(now)
    query = select(Indicator).order_by(Indicator.code)
    if group is not None:
        query = query.where(Indicator.group == group)
    indicators = list(await session.scalars(query))
    codes = [i.code for i in indicators]
    milestones = await _milestones_by_code(session, codes)
    values = await load_values(session, indicators, milestones, today)
    names_by_scope = {
        scope: await _unit_names(session, scope)
        for scope in {IndicatorScope(i.scope) for i in indicators}
    }
    entries = []
    for indicator in indicators:
        loaded = LoadedIndicator(indicator, milestones[indicator.code], values[indicator.code])
        milestone, series = series_statuses(
            loaded, names_by_scope[IndicatorScope(indicator.scope)], today
        )
        worst = _worst(series)
        colour = worst.colour if worst else Colour.GREY
        entries.append(
            BoardEntry(
                code=indicator.code,
                name=indicator.name,
                group=indicator.group,
                colour=colour,
                next_milestone=_milestone_public(milestone) if milestone else None,
                days_left=(milestone.due_on - today).days if milestone else None,
                responsible=indicator.responsible,
                units=[
                    s.unit_code
                    for s in series
                    if s.unit_code is not None and s.colour in (Colour.RED, Colour.YELLOW)
                ],
                reason_en=worst.reason_en if worst else "no series to judge",
                reason_vi=worst.reason_vi if worst else "không có chuỗi số liệu để đánh giá",
            )
        )
    entries.sort(
        key=lambda e: (
            _SEVERITY[e.colour],
            e.days_left if e.days_left is not None else 10**9,
            e.code,
        )
    )
    return IndicatorBoard(
        group=group,
        today=today,
        counts=_counts([e.colour for e in entries]),
        indicators=entries,
        attention=[e for e in entries if e.colour in (Colour.RED, Colour.YELLOW)],
    )


async def scenario(
    session: AsyncSession, code: str, payload: ScenarioRequest, now: datetime
) -> ScenarioAnswer:
    """What if: the day a pace reaches the next milestone's target, or the pace a day needs,
    going on from the latest accepted value (the baseline when none is accepted yet). Stores
    nothing."""
    today = vietnam_today(now)
    loaded = await _load(session, code, today)
    indicator = loaded.indicator
    await _check_unit(session, IndicatorScope(indicator.scope), payload.unit_code)
    milestone = next_milestone(loaded.milestones, today)
    if milestone is None:
        raise Refused(f"indicator {code} has no milestone to aim at")
    superseded = _superseded(loaded.values)
    counting = [
        v
        for v in loaded.values
        if v.status == ValueStatus.ACCEPTED.value
        and v.id not in superseded
        and v.unit_code == payload.unit_code
    ]
    latest = max(counting, key=lambda v: v.as_of, default=None)
    if latest is not None:
        from_value, from_on, from_baseline = latest.value, latest.as_of, False
    elif indicator.baseline_value is not None and indicator.baseline_on is not None:
        from_value, from_on, from_baseline = indicator.baseline_value, indicator.baseline_on, True
    else:
        raise Refused(f"indicator {code} has no accepted value and no baseline to start from")
    direction = Direction(indicator.direction)
    threshold = Milestone(
        milestone.due_on, (milestone.target_low, milestone.target_high)
    ).threshold(direction)
    if payload.pace_per_month is not None:
        pace = payload.pace_per_month
        projected_on = date_at_pace(from_value, from_on, threshold, direction, pace)
    else:
        assert payload.target_date is not None
        if payload.target_date <= from_on:
            raise Invalid(f"the target date {payload.target_date} must come after {from_on}")
        pace = pace_for_date(from_value, from_on, threshold, payload.target_date)
        projected_on = payload.target_date
    return ScenarioAnswer(
        unit_code=payload.unit_code,
        from_value=from_value,
        from_on=from_on,
        from_baseline=from_baseline,
        milestone=_milestone_public(milestone),
        threshold=threshold,
        pace_per_month=pace,
        projected_on=projected_on,
        meets_milestone=projected_on is not None and projected_on <= milestone.due_on,
    )
