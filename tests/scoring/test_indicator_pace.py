"""An indicator's colour against its next milestone, its pace and the "what if" scenarios, with
exact figures. Every judgement is made on a day passed in, never today's date."""

from __future__ import annotations

from datetime import date

import pytest

from scoring.indicator_pace import (
    IndicatorPace,
    IndicatorPaceInput,
    Milestone,
    date_at_pace,
    judge_pace,
    pace_for_date,
)
from vocabulary.indicators import Colour, Direction, IndicatorKind, ReportingRhythm

MONTH_ENDS = (date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31))
YEAR_END = date(2026, 12, 31)
MID_APRIL = date(2026, 4, 15)


def monthly(*values: float) -> tuple[tuple[date, float], ...]:
    """Values as of the ends of January, February and March 2026, newest first: the order of the
    accepted values must not matter."""
    return tuple(reversed(list(zip(MONTH_ENDS, values, strict=True))))


def judge(
    values: tuple[tuple[date, float], ...],
    target: float | tuple[float, float] = 80,
    *,
    due_on: date = YEAR_END,
    today: date = MID_APRIL,
    kind: IndicatorKind = IndicatorKind.PERCENT,
    direction: Direction = Direction.INCREASE,
    rhythm: ReportingRhythm = ReportingRhythm.MONTHLY,
    last_period_reported: bool = True,
) -> IndicatorPace:
    return judge_pace(
        IndicatorPaceInput(
            kind=kind,
            direction=direction,
            rhythm=rhythm,
            values=values,
            milestone=Milestone(due_on, target),
            today=today,
            last_period_reported=last_period_reported,
        )
    )


# --- the Done-when --------------------------------------------------------------------


def test_three_monthly_values_moving_fast_enough_show_green_with_their_projected_date() -> None:
    # Slope 295/1742 a day through (0, 60), (28, 65), (59, 70): the line reaches 80 on day
    # 117.58 after 31 January, so on day 118, 29 May.
    pace = judge(monthly(60, 65, 70))
    assert pace == IndicatorPace(
        colour=Colour.GREEN,
        met=False,
        latest_value=70,
        latest_on=date(2026, 3, 31),
        projected_on=date(2026, 5, 29),
        pace_per_month=5.1545,
        pace_required_per_month=1.1707,  # 10 / (260 days / 30.4375)
        days_left=260,
        projected_from=MONTH_ENDS,
        reason_en="projected to reach 80 on 2026-05-29, before the milestone 2026-12-31",
        reason_vi="dự kiến đạt 80 vào ngày 2026-05-29, trước mốc 2026-12-31",
    )


def test_three_monthly_values_moving_too_slowly_show_red_with_the_pace_they_would_need() -> None:
    # Slope 59/1742 a day: 80 is reached on day 589.98, 13 September 2027, beyond the month of
    # grace after the milestone.
    pace = judge(monthly(60, 61, 62))
    assert pace.colour is Colour.RED
    assert pace.projected_on == date(2027, 9, 13)
    assert pace.pace_per_month == 1.0309
    assert pace.pace_required_per_month == 2.1072  # 18 / (260 / 30.4375)
    assert pace.reason_en == (
        "projected to reach 80 on 2027-09-13, after the milestone 2026-12-31; "
        "it needs +2.1072 a month to reach it by 2026-12-31"
    )
    assert pace.reason_vi == (
        "dự kiến đạt 80 vào ngày 2027-09-13, sau mốc 2026-12-31; "
        "cần +2,1072 mỗi tháng để đạt vào mốc 2026-12-31"
    )


# --- grey -------------------------------------------------------------------------------------


def test_a_single_value_is_grey_without_a_trend() -> None:
    pace = judge(((date(2026, 3, 31), 70.0),))
    assert (pace.colour, pace.met, pace.latest_value, pace.latest_on) == (
        Colour.GREY,
        False,
        70,
        date(2026, 3, 31),
    )
    assert (pace.projected_on, pace.pace_per_month, pace.projected_from) == (None, None, ())
    assert pace.pace_required_per_month == 1.1707
    assert pace.reason_en == "fewer than two accepted values: no trend yet"


def test_no_value_at_all_is_grey() -> None:
    pace = judge(())
    assert (pace.colour, pace.latest_value, pace.pace_required_per_month) == (
        Colour.GREY,
        None,
        None,
    )


def test_an_unreported_last_period_is_grey_even_when_on_pace_and_keeps_its_figures() -> None:
    pace = judge(monthly(60, 65, 70), last_period_reported=False)
    assert pace.colour is Colour.GREY
    assert (pace.projected_on, pace.pace_per_month) == (date(2026, 5, 29), 5.1545)
    assert pace.reason_en == "the last reporting period that ended was not reported"
    assert pace.reason_vi == "kỳ báo cáo gần nhất đã kết thúc nhưng chưa được báo cáo"


# --- the edges of green, yellow and red -------------------------------------------------------

# 0 on 1 January and 10 on 11 January: the line gains exactly one a day, so target N is reached
# on day N. 30 November is day 333; a quarter later, 28 February 2027 (clamped), is day 423.
ONE_A_DAY = ((date(2026, 1, 1), 0.0), (date(2026, 1, 11), 10.0))
NOVEMBER_END = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("target", "projected_on", "colour"),
    [
        (333, date(2026, 11, 30), Colour.GREEN),
        (334, date(2026, 12, 1), Colour.YELLOW),
        (423, date(2027, 2, 28), Colour.YELLOW),
        (424, date(2027, 3, 1), Colour.RED),
    ],
)
def test_a_quarterly_indicator_is_yellow_up_to_one_quarter_after_its_milestone(
    target: float, projected_on: date, colour: Colour
) -> None:
    pace = judge(
        ONE_A_DAY,
        target,
        due_on=NOVEMBER_END,
        today=date(2026, 1, 15),
        kind=IndicatorKind.COUNT,
        rhythm=ReportingRhythm.QUARTERLY,
    )
    assert (pace.projected_on, pace.colour, pace.pace_per_month) == (projected_on, colour, 30.4375)


def test_projected_on_the_milestone_day_says_so() -> None:
    pace = judge(ONE_A_DAY, 333, due_on=NOVEMBER_END, today=date(2026, 1, 15))
    assert pace.reason_en == "projected to reach 333 on 2026-11-30, on the milestone 2026-11-30"
    assert pace.reason_vi == "dự kiến đạt 333 vào ngày 2026-11-30, đúng mốc 2026-11-30"


def test_a_monthly_indicator_projected_three_weeks_late_is_yellow() -> None:
    # Slope 59/1742 a day: 71 is reached on day 324.25, 22 December, within a month of
    # 30 November.
    pace = judge(monthly(60, 61, 62), 71, due_on=NOVEMBER_END)
    assert (pace.colour, pace.projected_on, pace.pace_required_per_month) == (
        Colour.YELLOW,
        date(2026, 12, 22),
        1.1962,
    )
    assert pace.reason_en == (
        "projected to reach 71 on 2026-12-22, within one reporting period after the milestone "
        "2026-11-30; it needs +1.1962 a month to reach it by 2026-11-30"
    )


def test_a_line_already_past_the_target_projects_the_day_after_the_latest_value() -> None:
    # The line through 70, 90, 75 crosses 80 on 24 March, but 75 on 31 March has not met it.
    pace = judge(monthly(70, 90, 75))
    assert (pace.colour, pace.met, pace.projected_on) == (Colour.GREEN, False, date(2026, 4, 1))


def test_a_met_target_is_green_whatever_the_trend() -> None:
    pace = judge(monthly(85, 82, 80))
    assert (pace.colour, pace.met, pace.projected_on, pace.pace_per_month) == (
        Colour.GREEN,
        True,
        None,
        -2.5685,  # −147/1742 a day
    )
    assert pace.reason_en == "met: 80 on 2026-03-31 against the target 80"
    assert pace.reason_vi == "đã đạt: 80 ngày 2026-03-31 so với chỉ tiêu 80"


# --- red without a projection -----------------------------------------------------------------


def test_a_trend_moving_the_wrong_way_is_red_with_the_pace_it_would_need() -> None:
    pace = judge(monthly(62, 61, 60))
    assert (pace.colour, pace.projected_on, pace.pace_per_month) == (Colour.RED, None, -1.0309)
    assert pace.pace_required_per_month == 2.3413  # 20 / (260 / 30.4375)
    assert pace.reason_en == (
        "not on course for the target 80: moving away from it (-1.0309 a month); "
        "it needs +2.3413 a month to reach it by 2026-12-31"
    )
    assert pace.reason_vi == (
        "không hướng tới chỉ tiêu 80: đi ngược chiều (-1,0309 mỗi tháng); "
        "cần +2,3413 mỗi tháng để đạt vào mốc 2026-12-31"
    )


def test_a_flat_trend_short_of_the_target_is_red() -> None:
    pace = judge(monthly(60, 60, 60))
    assert (pace.colour, pace.projected_on, pace.pace_per_month) == (Colour.RED, None, 0)
    assert pace.reason_en.startswith("not on course for the target 80: flat;")


def test_a_trend_too_slow_to_land_on_a_calendar_date_is_red_without_a_projection() -> None:
    # The line gains 1e-10 a day: 80 lies some 8e11 days ahead. It needs 80 × 30.4375 / 350.
    pace = judge(((date(2026, 1, 1), 0.0), (date(2026, 1, 11), 1e-9)), today=date(2026, 1, 15))
    assert (pace.colour, pace.projected_on, pace.pace_per_month) == (Colour.RED, None, 0)
    assert pace.reason_en == (
        "too slow to reach 80 on any calendar date; it needs +6.9571 a month to reach it by "
        "2026-12-31"
    )


def test_a_milestone_passed_unmet_is_red_with_no_pace_required() -> None:
    pace = judge(monthly(60, 61, 62), today=date(2027, 1, 10))
    assert (pace.colour, pace.days_left, pace.pace_required_per_month) == (Colour.RED, -10, None)
    assert pace.projected_on == date(2027, 9, 13)
    assert pace.reason_en == (
        "the milestone 2026-12-31 passed unmet: 62 on 2026-03-31 against the target 80"
    )
    assert pace.reason_vi == (
        "đã qua mốc 2026-12-31 mà chưa đạt: 62 ngày 2026-03-31 so với chỉ tiêu 80"
    )


def test_on_the_milestone_day_no_pace_is_required_and_it_is_not_yet_passed() -> None:
    pace = judge(monthly(60, 61, 62), 63, today=YEAR_END)
    # 63 is reached on day 88.05, 30 April: green, judged on the milestone day itself.
    assert (pace.colour, pace.days_left, pace.pace_required_per_month) == (Colour.GREEN, 0, None)


# --- ranks and ranges -------------------------------------------------------------------------

QUARTER_ENDS = (date(2025, 9, 30), date(2025, 12, 31), date(2026, 3, 31))


def test_a_rank_improves_downward_and_is_projected_to_its_target() -> None:
    # Ranks 30, 28, 27 a quarter apart: slope −(820/3)/(49688/3) a day, rank 20 on day 596.3.
    pace = judge(
        tuple(zip(QUARTER_ENDS, (30.0, 28.0, 27.0), strict=True)),
        20,
        kind=IndicatorKind.RANK,
        direction=Direction.DECREASE,
        rhythm=ReportingRhythm.QUARTERLY,
    )
    assert (pace.colour, pace.projected_on) == (Colour.RED, date(2027, 5, 20))
    assert (pace.pace_per_month, pace.pace_required_per_month) == (-0.5023, -0.8195)
    assert pace.reason_en.endswith("it needs -0.8195 a month to reach it by 2026-12-31")


def test_a_rank_at_or_below_its_target_is_met() -> None:
    pace = judge(
        tuple(zip(QUARTER_ENDS, (24.0, 21.0, 20.0), strict=True)),
        20,
        kind=IndicatorKind.RANK,
        direction=Direction.DECREASE,
        rhythm=ReportingRhythm.QUARTERLY,
    )
    assert (pace.colour, pace.met) == (Colour.GREEN, True)


def test_a_rank_that_should_increase_is_refused() -> None:
    with pytest.raises(ValueError, match="a rank is better when lower"):
        judge(monthly(30, 28, 27), 20, kind=IndicatorKind.RANK)


def test_an_increasing_range_target_is_met_at_its_low_end() -> None:
    pace = judge(monthly(49, 50, 51), (51, 52))
    assert (pace.colour, pace.met) == (Colour.GREEN, True)
    assert pace.reason_en == "met: 51 on 2026-03-31 against the target 51–52"


def test_an_increasing_range_target_is_projected_to_its_low_end() -> None:
    # Slope 59/1742 a day from 48.9, 49.9, 50.9 (mean 49.9 on day 29): 51 on day 61.5, 3 April.
    pace = judge(monthly(48.9, 49.9, 50.9), (51, 52))
    assert (pace.met, pace.projected_on, pace.pace_required_per_month) == (
        False,
        date(2026, 4, 3),
        0.0117,
    )


def test_a_decreasing_range_target_is_met_at_its_high_end_and_projected_to_it() -> None:
    met = judge(monthly(54, 53, 52), (51, 52), direction=Direction.DECREASE)
    assert (met.colour, met.met) == (Colour.GREEN, True)
    # Slope −44/1742 a day: 52 on day 75.2, 17 April.
    pace = judge(monthly(54, 53, 52.5), (51, 52), direction=Direction.DECREASE)
    assert (pace.met, pace.projected_on, pace.pace_per_month) == (False, date(2026, 4, 17), -0.7688)
    assert pace.pace_required_per_month == -0.0585
    assert pace.reason_vi == "dự kiến đạt 51–52 vào ngày 2026-04-17, trước mốc 2026-12-31"


def test_a_range_from_high_to_low_is_refused() -> None:
    with pytest.raises(ValueError, match="from low to high"):
        Milestone(YEAR_END, (52, 51))


def test_two_values_on_one_day_are_refused() -> None:
    with pytest.raises(ValueError, match="one accepted value per day"):
        judge(((date(2026, 3, 31), 60.0), (date(2026, 3, 31), 61.0)))


# --- yes/no criteria --------------------------------------------------------------------------


def yes_no(
    *values: tuple[date, float], today: date = MID_APRIL, reported: bool = True
) -> IndicatorPace:
    return judge(values, 1, kind=IndicatorKind.YES_NO, today=today, last_period_reported=reported)


def test_a_yes_no_criterion_met_by_its_latest_value_is_green() -> None:
    pace = yes_no((date(2026, 3, 31), 1.0), (date(2026, 1, 31), 0.0))
    assert (pace.colour, pace.met, pace.latest_on) == (Colour.GREEN, True, date(2026, 3, 31))
    assert (pace.pace_per_month, pace.pace_required_per_month, pace.days_left) == (None, None, 260)
    assert (pace.reason_en, pace.reason_vi) == ("met on 2026-03-31", "đã đạt ngày 2026-03-31")


def test_a_yes_no_criterion_not_met_is_yellow_up_to_its_milestone_and_red_after() -> None:
    before = yes_no((date(2026, 1, 31), 1.0), (date(2026, 3, 31), 0.0), today=YEAR_END)
    assert (before.colour, before.met) == (Colour.YELLOW, False)
    assert before.reason_en == "not met yet; due by the milestone 2026-12-31"
    after = yes_no((date(2026, 3, 31), 0.0), today=date(2027, 1, 1))
    assert (after.colour, after.days_left) == (Colour.RED, -1)
    assert after.reason_vi == "đã qua mốc 2026-12-31 mà chưa đạt"


def test_a_yes_no_criterion_needs_one_value_and_its_last_period_reported() -> None:
    assert yes_no().colour is Colour.GREY
    assert yes_no((date(2026, 3, 31), 1.0), reported=False).colour is Colour.GREY


def test_a_yes_no_value_other_than_0_or_1_is_refused() -> None:
    with pytest.raises(ValueError, match="values 0 and 1 only"):
        yes_no((date(2026, 3, 31), 0.5))


# --- scenarios --------------------------------------------------------------------------------

MARCH_END = date(2026, 3, 31)


@pytest.mark.parametrize(
    ("latest", "target", "direction", "pace_per_month", "expected"),
    [
        # 10 / 5 months = 60.875 days: reached on the 61st day.
        (70, 80, Direction.INCREASE, 5.0, date(2026, 5, 31)),
        # 7 months at one a month = 213.06 days: the 214th day.
        (27, 20, Direction.DECREASE, -1.0, date(2026, 10, 31)),
        # Already there: the day of the latest value.
        (81, 80, Direction.INCREASE, -1.0, MARCH_END),
        (19, 20, Direction.DECREASE, 1.0, MARCH_END),
        # A pace that does not move toward the target never reaches it.
        (70, 80, Direction.INCREASE, -1.0, None),
        (70, 80, Direction.INCREASE, 0.0, None),
        (27, 20, Direction.DECREASE, 0.5, None),
        # So slow that the day falls beyond the calendar.
        (70, 80, Direction.INCREASE, 1e-12, None),
    ],
)
def test_the_date_a_pace_reaches_the_target(
    latest: float,
    target: float,
    direction: Direction,
    pace_per_month: float,
    expected: date | None,
) -> None:
    assert date_at_pace(latest, MARCH_END, target, direction, pace_per_month) == expected


def test_the_pace_a_date_needs() -> None:
    # 275 days from 31 March to 31 December: 10 × 30.4375 / 275 and −7 × 30.4375 / 275.
    assert pace_for_date(70, MARCH_END, 80, YEAR_END) == 1.1068
    assert pace_for_date(27, MARCH_END, 20, YEAR_END) == -0.7748


def test_the_pace_for_a_date_not_after_the_latest_value_is_refused() -> None:
    with pytest.raises(ValueError, match="must come after 2026-03-31"):
        pace_for_date(70, MARCH_END, 80, MARCH_END)
