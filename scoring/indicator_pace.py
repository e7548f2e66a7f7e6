"""Whether one indicator (or one commune's or agency's series under it) will be green at its next
milestone, and the "what if" scenarios: the date a given pace reaches the target, the pace a given
date needs. Pure calculation: the accepted values and the day of judgement are passed in.

The trend is the least-squares line through the accepted values, with x in days. A pace is the
signed change per month, a month being 365.25 / 12 = 30.4375 days. Figures stay unrounded inside;
paces are rounded to 4 decimals in what is returned."""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from vocabulary.indicators import RHYTHM_MONTHS, Colour, Direction, IndicatorKind, ReportingRhythm

# 365.25 / 12, held exactly.
DAYS_PER_MONTH = Fraction(36525, 1200)
PACE_DECIMALS = 4


@dataclass(frozen=True)
class Milestone:
    """The next milestone: a target number, or a range `(low, high)` such as 51–52 (reaching the
    near end of the range counts: low when increasing, high when decreasing)."""

    due_on: date
    target: float | tuple[float, float]

    def __post_init__(self) -> None:
        if isinstance(self.target, tuple) and self.target[0] > self.target[1]:
            raise ValueError(f"a target range runs from low to high, not {self.target}")

    def threshold(self, direction: Direction) -> float:
        """The figure that counts as met."""
        if not isinstance(self.target, tuple):
            return self.target
        low, high = self.target
        return low if direction is Direction.INCREASE else high


@dataclass(frozen=True)
class IndicatorPaceInput:
    kind: IndicatorKind
    direction: Direction
    rhythm: ReportingRhythm
    # The accepted values as (as of, value), in any order; one per day.
    values: tuple[tuple[date, float], ...]
    milestone: Milestone
    # The day of judgement, passed in: the result never depends on the wall clock.
    today: date
    # Whether the last reporting period that has ended was reported.
    last_period_reported: bool

    def __post_init__(self) -> None:
        days = [as_of for as_of, _ in self.values]
        if len(set(days)) != len(days):
            raise ValueError("one accepted value per day: two values share an as-of date")
        if self.kind is IndicatorKind.RANK and self.direction is not Direction.DECREASE:
            raise ValueError("a rank is better when lower: its direction is decrease")
        if self.kind is IndicatorKind.YES_NO and any(v not in (0, 1) for _, v in self.values):
            raise ValueError("a yes/no criterion takes the values 0 and 1 only")


@dataclass(frozen=True)
class IndicatorPace:
    colour: Colour
    met: bool
    latest_value: float | None
    latest_on: date | None
    # The first day the trend reaches the target; None when met, without a trend, or never.
    projected_on: date | None
    # The trend's change per month so far (signed); None without a trend.
    pace_per_month: float | None
    # (target − latest) / months left (signed); None once the milestone day has come.
    pace_required_per_month: float | None
    # Negative once the milestone has passed.
    days_left: int
    # The as-of dates of the values the trend was drawn through, oldest first.
    projected_from: tuple[date, ...]
    reason_en: str
    reason_vi: str


def judge_pace(indicator: IndicatorPaceInput) -> IndicatorPace:
    """The colour of one series against its next milestone, with the figures behind it."""
    if indicator.kind is IndicatorKind.YES_NO:
        return _judge_yes_no(indicator)
    return _judge_numeric(indicator)


def date_at_pace(
    latest: float, latest_on: date, target: float, direction: Direction, pace_per_month: float
) -> date | None:
    """The first day the target is reached going on from `latest` at `pace_per_month`: the day of
    `latest` when it already meets the target, None when the pace does not move toward it (or is
    too slow to land on a calendar date)."""
    if _meets(latest, target, direction):
        return latest_on
    pace = Fraction(pace_per_month)
    if pace == 0 or (pace > 0) != (direction is Direction.INCREASE):
        return None
    days = (Fraction(target) - Fraction(latest)) / pace * DAYS_PER_MONTH
    return _day_after(latest_on, math.ceil(days))


def pace_for_date(latest: float, latest_on: date, target: float, target_date: date) -> float:
    """The change per month that takes `latest` to `target` on `target_date`."""
    days = (target_date - latest_on).days
    if days <= 0:
        raise ValueError(f"the target date {target_date} must come after {latest_on}")
    pace = (Fraction(target) - Fraction(latest)) * DAYS_PER_MONTH / days
    return round(float(pace), PACE_DECIMALS)


# --- numeric indicators -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Trend:
    slope_per_day: Fraction
    # The line's value at day 0 (the oldest value's date).
    intercept: Fraction
    origin: date


def _judge_numeric(indicator: IndicatorPaceInput) -> IndicatorPace:
    values = sorted(indicator.values)
    milestone = indicator.milestone
    direction = indicator.direction
    threshold = milestone.threshold(direction)
    days_left = (milestone.due_on - indicator.today).days

    latest_on, latest = values[-1] if values else (None, None)
    met = latest is not None and _meets(latest, threshold, direction)
    trend = _trend(values) if len(values) >= 2 else None

    projected_on: date | None = None
    beyond_calendar = False
    if trend is not None and not met and latest_on is not None:
        projected_on = _projected_on(trend, threshold, direction, latest_on)
        beyond_calendar = projected_on is None and _moves_toward(trend.slope_per_day, direction)
    pace = None if trend is None else _rounded_pace(trend.slope_per_day * DAYS_PER_MONTH)
    required = None
    if latest is not None and days_left > 0:
        months_left = days_left / DAYS_PER_MONTH
        required = _rounded_pace((Fraction(threshold) - Fraction(latest)) / months_left)

    text = _target_words(milestone.target)
    colour, reason_en, reason_vi = _numeric_colour(
        indicator,
        text,
        met=met,
        latest=latest,
        latest_on=latest_on,
        trend=trend,
        projected_on=projected_on,
        beyond_calendar=beyond_calendar,
        required=required,
    )
    return IndicatorPace(
        colour=colour,
        met=met,
        latest_value=latest,
        latest_on=latest_on,
        projected_on=projected_on,
        pace_per_month=pace,
        pace_required_per_month=required,
        days_left=days_left,
        projected_from=tuple(as_of for as_of, _ in values) if trend is not None else (),
        reason_en=reason_en,
        reason_vi=reason_vi,
    )


def _numeric_colour(
    indicator: IndicatorPaceInput,
    text: _Words,
    *,
    met: bool,
    latest: float | None,
    latest_on: date | None,
    trend: _Trend | None,
    projected_on: date | None,
    beyond_calendar: bool,
    required: float | None,
) -> tuple[Colour, str, str]:
    """The colour, in the order the brief's rule reads, with its reason in English and
    Vietnamese."""
    due_on = indicator.milestone.due_on
    if trend is None or latest is None or latest_on is None:
        return (
            Colour.GREY,
            "fewer than two accepted values: no trend yet",
            "chưa đủ hai giá trị được chấp nhận: chưa có xu hướng",
        )
    if not indicator.last_period_reported:
        return Colour.GREY, _UNREPORTED_EN, _UNREPORTED_VI
    if met:
        return (
            Colour.GREEN,
            f"met: {_en(latest)} on {latest_on} against the target {text.threshold_en}",
            f"đã đạt: {_vi(latest)} ngày {latest_on} so với chỉ tiêu {text.threshold_vi}",
        )
    if projected_on is not None and projected_on <= due_on:
        when_en = "on the milestone" if projected_on == due_on else "before the milestone"
        when_vi = "đúng mốc" if projected_on == due_on else "trước mốc"
        return (
            Colour.GREEN,
            f"projected to reach {text.threshold_en} on {projected_on}, {when_en} {due_on}",
            f"dự kiến đạt {text.threshold_vi} vào ngày {projected_on}, {when_vi} {due_on}",
        )
    if indicator.today > due_on:
        return (
            Colour.RED,
            f"the milestone {due_on} passed unmet: {_en(latest)} on {latest_on} against the "
            f"target {text.threshold_en}",
            f"đã qua mốc {due_on} mà chưa đạt: {_vi(latest)} ngày {latest_on} so với chỉ tiêu "
            f"{text.threshold_vi}",
        )
    needs_en, needs_vi = _needs(required, due_on)
    if not _moves_toward(trend.slope_per_day, indicator.direction):
        pace = _rounded_pace(trend.slope_per_day * DAYS_PER_MONTH)
        moving_en = (
            "flat" if pace == 0 else f"moving away from it ({_en(pace, signed=True)} a month)"
        )
        moving_vi = (
            "đứng yên" if pace == 0 else f"đi ngược chiều ({_vi(pace, signed=True)} mỗi tháng)"
        )
        return (
            Colour.RED,
            f"not on course for the target {text.threshold_en}: {moving_en}{needs_en}",
            f"không hướng tới chỉ tiêu {text.threshold_vi}: {moving_vi}{needs_vi}",
        )
    if projected_on is not None and projected_on <= _months_after(
        due_on, RHYTHM_MONTHS[indicator.rhythm]
    ):
        return (
            Colour.YELLOW,
            f"projected to reach {text.threshold_en} on {projected_on}, within one reporting "
            f"period after the milestone {due_on}{needs_en}",
            f"dự kiến đạt {text.threshold_vi} vào ngày {projected_on}, trễ mốc {due_on} không quá "
            f"một kỳ báo cáo{needs_vi}",
        )
    if beyond_calendar:
        return (
            Colour.RED,
            f"too slow to reach {text.threshold_en} on any calendar date{needs_en}",
            f"quá chậm, không thể đạt {text.threshold_vi}{needs_vi}",
        )
    return (
        Colour.RED,
        f"projected to reach {text.threshold_en} on {projected_on}, after the milestone "
        f"{due_on}{needs_en}",
        f"dự kiến đạt {text.threshold_vi} vào ngày {projected_on}, sau mốc {due_on}{needs_vi}",
    )


def _needs(required: float | None, due_on: date) -> tuple[str, str]:
    if required is None:
        return "", ""
    return (
        f"; it needs {_en(required, signed=True)} a month to reach it by {due_on}",
        f"; cần {_vi(required, signed=True)} mỗi tháng để đạt vào mốc {due_on}",
    )


def _trend(values: list[tuple[date, float]]) -> _Trend:
    """The least-squares line, exact: the first day it reaches a target is a ceiling, and float
    noise of 1e-13 would move a projection that lands on a whole day to the next one."""
    origin = values[0][0]
    xs = [Fraction((as_of - origin).days) for as_of, _ in values]
    ys = [Fraction(value) for _, value in values]
    mean_x = sum(xs, Fraction(0)) / len(xs)
    mean_y = sum(ys, Fraction(0)) / len(ys)
    sxx = sum(((x - mean_x) ** 2 for x in xs), Fraction(0))
    sxy = sum(((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)), Fraction(0))
    slope = sxy / sxx
    return _Trend(slope_per_day=slope, intercept=mean_y - slope * mean_x, origin=origin)


def _projected_on(
    trend: _Trend, threshold: float, direction: Direction, latest_on: date
) -> date | None:
    """The first day the line reaches the threshold. Days up to the latest value are already
    known not to meet it, so the search starts the day after; None when the line never gets
    there (or only beyond the calendar)."""
    if not _moves_toward(trend.slope_per_day, direction):
        return None
    crossing = (Fraction(threshold) - trend.intercept) / trend.slope_per_day
    first_day = max(math.ceil(crossing), (latest_on - trend.origin).days + 1)
    return _day_after(trend.origin, first_day)


def _moves_toward(slope: Fraction, direction: Direction) -> bool:
    return slope > 0 if direction is Direction.INCREASE else slope < 0


# --- yes/no criteria --------------------------------------------------------------------------


def _judge_yes_no(indicator: IndicatorPaceInput) -> IndicatorPace:
    values = sorted(indicator.values)
    due_on = indicator.milestone.due_on
    days_left = (due_on - indicator.today).days
    latest_on, latest = values[-1] if values else (None, None)
    met = latest == 1
    if latest is None:
        colour = Colour.GREY
        reason_en, reason_vi = "no accepted value yet", "chưa có giá trị được chấp nhận"
    elif not indicator.last_period_reported:
        colour, reason_en, reason_vi = Colour.GREY, _UNREPORTED_EN, _UNREPORTED_VI
    elif met:
        colour = Colour.GREEN
        reason_en, reason_vi = f"met on {latest_on}", f"đã đạt ngày {latest_on}"
    elif indicator.today <= due_on:
        colour = Colour.YELLOW
        reason_en = f"not met yet; due by the milestone {due_on}"
        reason_vi = f"chưa đạt; hạn đến mốc {due_on}"
    else:
        colour = Colour.RED
        reason_en = f"the milestone {due_on} passed unmet"
        reason_vi = f"đã qua mốc {due_on} mà chưa đạt"
    return IndicatorPace(
        colour=colour,
        met=met,
        latest_value=latest,
        latest_on=latest_on,
        projected_on=None,
        pace_per_month=None,
        pace_required_per_month=None,
        days_left=days_left,
        projected_from=(),
        reason_en=reason_en,
        reason_vi=reason_vi,
    )


# --- shared -----------------------------------------------------------------------------------

_UNREPORTED_EN = "the last reporting period that ended was not reported"
_UNREPORTED_VI = "kỳ báo cáo gần nhất đã kết thúc nhưng chưa được báo cáo"


@dataclass(frozen=True)
class _Words:
    """The target as a reason names it, in English and in Vietnamese."""

    threshold_en: str
    threshold_vi: str


def _target_words(target: float | tuple[float, float]) -> _Words:
    if isinstance(target, tuple):
        low, high = target
        return _Words(f"{_en(low)}–{_en(high)}", f"{_vi(low)}–{_vi(high)}")
    return _Words(_en(target), _vi(target))


def _meets(value: float, threshold: float, direction: Direction) -> bool:
    return value >= threshold if direction is Direction.INCREASE else value <= threshold


def _rounded_pace(pace: Fraction) -> float:
    return round(float(pace), PACE_DECIMALS)


def _day_after(start: date, days: int) -> date | None:
    if start.toordinal() + days > date.max.toordinal():
        return None
    return start + timedelta(days=days)


def _months_after(day: date, months: int) -> date:
    """The same day `months` calendar months later, clamped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _en(value: float, *, signed: bool = False) -> str:
    """A figure as people read it: at most 4 decimals, no trailing zeros."""
    text = f"{value:+.{PACE_DECIMALS}f}" if signed else f"{value:.{PACE_DECIMALS}f}"
    text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "+0") else text


def _vi(value: float, *, signed: bool = False) -> str:
    # Vietnamese writes the decimal comma.
    return _en(value, signed=signed).replace(".", ",")
