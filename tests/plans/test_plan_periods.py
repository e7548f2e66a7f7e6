"""The periods of a task reported every month, quarter, half or year: the period that holds a
day, at every boundary, and the schedule's cron that opens each."""

from __future__ import annotations

from datetime import date

import pytest

from vocabulary.deadline_text import ReportEvery
from vocabulary.plan_periods import period_holding, schedule_cron

M, Q, H, Y = ReportEvery.MONTH, ReportEvery.QUARTER, ReportEvery.HALF, ReportEvery.YEAR


@pytest.mark.parametrize(
    ("every", "day", "start", "end"),
    [
        (M, date(2028, 2, 1), date(2028, 2, 1), date(2028, 2, 29)),
        (M, date(2027, 2, 28), date(2027, 2, 1), date(2027, 2, 28)),
        (M, date(2027, 12, 31), date(2027, 12, 1), date(2027, 12, 31)),
        (Q, date(2027, 1, 1), date(2027, 1, 1), date(2027, 3, 31)),
        (Q, date(2027, 6, 30), date(2027, 4, 1), date(2027, 6, 30)),
        (Q, date(2027, 7, 1), date(2027, 7, 1), date(2027, 9, 30)),
        (Q, date(2027, 12, 31), date(2027, 10, 1), date(2027, 12, 31)),
        (H, date(2027, 6, 30), date(2027, 1, 1), date(2027, 6, 30)),
        (H, date(2027, 7, 1), date(2027, 7, 1), date(2027, 12, 31)),
        (Y, date(2027, 1, 1), date(2027, 1, 1), date(2027, 12, 31)),
        (Y, date(2027, 12, 31), date(2027, 1, 1), date(2027, 12, 31)),
    ],
)
def test_the_period_that_holds_a_day(every: ReportEvery, day: date, start: date, end: date) -> None:
    assert period_holding(every, day) == (start, end)


def test_each_period_opens_five_minutes_into_its_first_day() -> None:
    assert [schedule_cron(e) for e in (M, Q, H, Y)] == [
        "5 0 1 * *",
        "5 0 1 1,4,7,10 *",
        "5 0 1 1,7 *",
        "5 0 1 1 *",
    ]
