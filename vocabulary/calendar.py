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


# ---- statutory processing limits (administrative-procedure dossiers) ------------------------

# Same-day procedures: a complete dossier received after this time is due the next working day.
SAME_DAY_CUTOFF = time(15, 0)


def working_days_between(start: date, end: date) -> int:
    """How many working days lie after `start` up to and including `end` (0 if end <= start)."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count


def first_working_day_from(day: date) -> date:
    """`day` itself if it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def processing_due(
    received_at: datetime,
    amount: int,
    unit: str,
    count_receipt_day: bool = False,
    roll_to_working_day: bool = True,
    cutoff: time = SAME_DAY_CUTOFF,
) -> datetime:
    """When a dossier received at `received_at` is due, at the close of the office day.

    `unit` is "working_days", "calendar_days" or "same_day". By the Civil Code's rule for
    periods in days the receipt day is not counted (`count_receipt_day` turns that off); a
    calendar-day limit that ends on a day off ends on the next working day
    (`roll_to_working_day`). A same-day dossier received after `cutoff`, or on a day off, is
    due on the next working day."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    local = received_at.astimezone(VIETNAM)
    day = local.date()
    if unit == "same_day":
        if is_working_day(day) and local.time() <= cutoff:
            due = day
        else:
            due = nth_working_day_after(day, 1)
    elif unit == "working_days":
        if amount < 1:
            raise ValueError("a working-day limit is at least 1 day")
        start = day - timedelta(days=1) if count_receipt_day and is_working_day(day) else day
        due = nth_working_day_after(start, amount)
    elif unit == "calendar_days":
        if amount < 1:
            raise ValueError("a calendar-day limit is at least 1 day")
        due = day + timedelta(days=amount - 1 if count_receipt_day else amount)
        if roll_to_working_day:
            due = first_working_day_from(due)
    else:
        raise ValueError(f"unknown unit of a processing limit: {unit}")
    return datetime.combine(due, OFFICE_DAY_ENDS, tzinfo=VIETNAM)


def resumed_due(due_at: datetime, paused_at: datetime, resumed_at: datetime, unit: str) -> datetime:
    """The due time of a dossier whose clock paused at `paused_at` (a supplement was requested)
    and runs again at `resumed_at` (the supplement arrived).

    The pause day counts as used; what was left after it (working days, or calendar days for a
    calendar-day limit) runs again after the day of resumption, so the due date moves by exactly
    the working days (or days) of the pause."""
    due_day = due_at.astimezone(VIETNAM).date()
    paused_day = paused_at.astimezone(VIETNAM).date()
    resumed_day = resumed_at.astimezone(VIETNAM).date()
    if unit == "calendar_days":
        left = max((due_day - paused_day).days, 0)
        due = first_working_day_from(resumed_day + timedelta(days=left)) if left else resumed_day
        return datetime.combine(max(due, resumed_day), OFFICE_DAY_ENDS, tzinfo=VIETNAM)
    left = working_days_between(paused_day, due_day)
    if left == 0:
        # Nothing was left (paused on the due day, or a same-day procedure): the result is due
        # at the close of the day the supplement arrives, or of the next working day.
        return processing_due(resumed_at, 0, "same_day")
    return datetime.combine(
        nth_working_day_after(resumed_day, left), OFFICE_DAY_ENDS, tzinfo=VIETNAM
    )


def working_days_later(moment: datetime, working_days: int) -> datetime:
    """The close of the office day `working_days` working days after `moment`'s day."""
    return working_day_deadline(moment, working_days)
