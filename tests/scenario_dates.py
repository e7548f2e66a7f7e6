"""Where the date-bound scenarios take place, derived from the time-skipping server's clock
(which starts at wall time) and the product's own working-day calendar.

Hand-picked dates made these scenarios skip once the clock passed them (early 2027); derived
dates make each scenario mean the same thing in any year: the next Tết, the next ordinary
weeks (weekdays worked, weekends off, no holiday), the next month that starts on a Monday.

`AXIS_TEST_CLOCK_AT` (an ISO date, Vietnam time) first moves the server's clock to that day:
the way to run the scenarios as they will run on a later date, e.g. after 2027's Tết."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import holidays
from temporalio.testing import WorkflowEnvironment

from tests.workflows.helpers import advance_to
from vocabulary.calendar import OFFICE_DAY_ENDS, VIETNAM, is_working_day, nth_working_day_after

CLOCK_AT_VARIABLE = "AXIS_TEST_CLOCK_AT"
DAY = timedelta(days=1)
# Far enough to find Tết, a Monday-first month or a run of ordinary weeks in any year.
SEARCH_DAYS = 800


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=VIETNAM)


def close(day: date) -> datetime:
    """The close of the office day: where a deadline in days falls."""
    return datetime.combine(day, OFFICE_DAY_ENDS, tzinfo=VIETNAM)


async def server_now(env: WorkflowEnvironment) -> datetime:
    """The server's time, after moving it to `AXIS_TEST_CLOCK_AT` when that is set."""
    wanted = os.environ.get(CLOCK_AT_VARIABLE)
    if wanted:
        await advance_to(env, at(date.fromisoformat(wanted), 0))
    return await env.get_current_time()


def is_ordinary(day: date) -> bool:
    """A weekday that is worked or a weekend day that is off: no holiday, no swapped Saturday."""
    return is_working_day(day) == (day.weekday() < 5)


def ordinary_monday_after(moment: datetime, days: int) -> date:
    """The first Monday after `moment`'s day from which `days` days in a row are ordinary."""
    day = moment.astimezone(VIETNAM).date() + DAY
    for _ in range(SEARCH_DAYS):
        if day.weekday() == 0 and all(is_ordinary(day + n * DAY) for n in range(days)):
            return day
        day += DAY
    raise AssertionError(f"no {days} ordinary days from a Monday after {moment}")


def ordinary_month_after(moment: datetime, days: int) -> date:
    """The first day of the first month after `moment` that starts on a Monday and whose first
    `days` days are ordinary."""
    local = moment.astimezone(VIETNAM).date()
    year, month = local.year, local.month
    for _ in range(SEARCH_DAYS // 28):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        first = date(year, month, 1)
        if first.weekday() == 0 and all(is_ordinary(first + n * DAY) for n in range(days)):
            return first
    raise AssertionError(f"no month after {moment} starts on a Monday with {days} ordinary days")


@dataclass(frozen=True)
class TetDates:
    """Five working days that span Tết: three before its days off, two after."""

    received: date  # the fourth working day before Tết's first day off
    last_before: date  # the last working day before Tết
    first_off: date
    last_off: date
    due: date  # the second working day after Tết


def _tet_dates(year: int) -> TetDates:
    (new_year,) = [
        day
        for day, name in holidays.country_holidays("VN", years=year).items()
        if name == "Lunar New Year"
    ]
    first_off = last_off = new_year
    while not is_working_day(first_off - DAY):
        first_off -= DAY
    while not is_working_day(last_off + DAY):
        last_off += DAY
    before = [first_off - n * DAY for n in range(1, 15) if is_working_day(first_off - n * DAY)]
    return TetDates(
        received=before[3],
        last_before=before[0],
        first_off=first_off,
        last_off=last_off,
        due=nth_working_day_after(last_off, 2),
    )


def next_tet(moment: datetime, received_hour: int = 10) -> TetDates:
    """The next Tết whose scenario (received at `received_hour`) still lies ahead of `moment`."""
    year = moment.astimezone(VIETNAM).year
    while at((found := _tet_dates(year)).received, received_hour) <= moment:
        year += 1
    return found
