"""The Vietnamese working-day calendar: weekends, Tết and the other public holidays, and the
Saturdays the government swaps into working days. Temporal has no business calendar; this is
ours. Called only from activities, so a new `holidays` release never changes a running process."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
# A deadline in working days falls at the close of the office day on its last working day.
OFFICE_DAY_ENDS = time(17, 0)


@lru_cache(maxsize=64)
def _calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=[year - 1, year, year + 1])


def is_working_day(day: date) -> bool:
    """A weekday that is not a public holiday, or a weekend day swapped into a working day."""
    return bool(_calendar(day.year).is_working_day(day))


def nth_working_day_after(day: date, n: int) -> date:
    """The n-th working day after `day` (not counting `day` itself); n must be at least 1."""
    if n < 1:
        raise ValueError("n must be at least 1")
    current = day
    remaining = n
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_day_deadline(issued_at: datetime, working_days: int) -> datetime:
    """When `working_days` working days given at `issued_at` run out: the end of the office day
    (Asia/Ho_Chi_Minh) of the n-th working day after the day of issue."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    local_day = issued_at.astimezone(VIETNAM).date()
    due = nth_working_day_after(local_day, working_days)
    return datetime.combine(due, OFFICE_DAY_ENDS, tzinfo=VIETNAM)
