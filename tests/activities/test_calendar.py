"""The Vietnamese working-day calendar. Every expectation below was checked against
`holidays.country_holidays("VN", years=[2026, 2027])` (holidays 0.109) and its
`weekend_workdays`, which lists Sat 22 Aug 2026 as a working Saturday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from vocabulary.calendar import VIETNAM, is_working_day, nth_working_day_after, working_day_deadline


def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM)


def due(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 17, 0, tzinfo=VIETNAM)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Fri before Tết 2026
        (date(2026, 2, 16), False),  # Mon, Lunar New Year's Eve
        (date(2026, 2, 20), False),  # Fri, fourth day of Tết
        (date(2026, 2, 21), False),  # an ordinary Saturday
        (date(2026, 2, 22), False),  # an ordinary Sunday
        (date(2026, 4, 27), False),  # Hùng Kings observed (26 Apr is a Sunday)
        (date(2026, 8, 22), True),  # Saturday swapped into a working day
        (date(2026, 8, 29), False),  # the next Saturday is not
        (date(2026, 8, 31), False),  # Mon, the day off swapped from 22 Aug
        (date(2026, 11, 24), False),  # Vietnam Cultural Day
        (date(2026, 11, 25), True),  # Wed after it
        (date(2027, 2, 6), False),  # Sat inside Tết 2027
        (date(2027, 2, 11), True),  # Thu, first working day after Tết 2027
    ],
)
def test_is_working_day_follows_weekends_holidays_and_swapped_saturdays(
    day: date, working: bool
) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        # Thu 31 Dec 2026 -> Fri 1 Jan 2027 is New Year's Day, then the weekend -> Mon 4 Jan.
        (date(2026, 12, 31), 1, date(2027, 1, 4)),
        # Fri 24 Apr 2026: Mon 27 off (Hùng Kings observed) -> Tue 28 (1), Wed 29 (2),
        # Thu 30 Apr and Fri 1 May off, weekend -> Mon 4 May (3).
        (date(2026, 4, 24), 1, date(2026, 4, 28)),
        (date(2026, 4, 24), 3, date(2026, 5, 4)),
        # Fri 28 Aug 2026: weekend, Mon 31 Aug (swapped), Tue 1 + Wed 2 Sep off -> Thu 3 Sep.
        (date(2026, 8, 28), 1, date(2026, 9, 3)),
        # Wed 1 Sep 2027: Thu 2 + Fri 3 Sep are National Day, then the weekend -> Mon 6 Sep.
        (date(2027, 9, 1), 1, date(2027, 9, 6)),
        # The day itself is never counted, even when it is a working day.
        (date(2026, 3, 2), 1, date(2026, 3, 3)),
    ],
)
def test_nth_working_day_after_skips_every_day_off_and_not_the_day_itself(
    day: date, n: int, expected: date
) -> None:
    assert nth_working_day_after(day, n) == expected


@pytest.mark.parametrize(
    ("issued_at", "n", "expected"),
    [
        # Fri 13 Feb 2026: Tết Mon 16–Fri 20 and the weekend off -> Mon 23 (1) … Fri 27 (5).
        (local(2026, 2, 13), 5, due(2026, 2, 27)),
        # Issued Sat 7 Mar 2026: Sun is off -> Mon 9 (1), Tue 10 (2), Wed 11 (3).
        (local(2026, 3, 7, 10), 3, due(2026, 3, 11)),
        # 2026-11-20T20:00Z is Sat 21 Nov 03:00 in Vietnam: Mon 23 (1), Tue 24 is Vietnam
        # Cultural Day -> Wed 25 (2).
        (datetime(2026, 11, 20, 20, 0, tzinfo=UTC), 2, due(2026, 11, 25)),
        # 2026-11-18T20:00Z is already Thu 19 Nov 03:00 local: one working day is Fri 20, not
        # the Thu 19 that counting from the UTC date (Wed 18) would give.
        (datetime(2026, 11, 18, 20, 0, tzinfo=UTC), 1, due(2026, 11, 20)),
        # 23:30 local is still the day of issue: Wed 18 Nov -> Thu 19 Nov.
        (local(2026, 11, 18, 23, 30), 1, due(2026, 11, 19)),
        # Fri 21 Aug 2026 + 1 -> the swapped working Saturday 22 Aug; + 2 -> Mon 24 Aug.
        (local(2026, 8, 21), 1, due(2026, 8, 22)),
        (local(2026, 8, 21), 2, due(2026, 8, 24)),
        # Mon 23 Nov 2026 + 1: Tue 24 Nov is Vietnam Cultural Day -> Wed 25 Nov.
        (local(2026, 11, 23), 1, due(2026, 11, 25)),
        # Wed 3 Feb 2027: Tết 2027 is Thu 4 – Wed 10 Feb -> Thu 11 Feb (1), Fri 12 Feb (2).
        (local(2027, 2, 3), 1, due(2027, 2, 11)),
        (local(2027, 2, 3), 2, due(2027, 2, 12)),
        # Another offset: 2026-02-13 08:00-05:00 is Fri 13 Feb 20:00 local -> as the first case.
        (datetime(2026, 2, 13, 8, 0, tzinfo=timezone(timedelta(hours=-5))), 5, due(2026, 2, 27)),
    ],
)
def test_working_day_deadline_is_five_pm_vietnam_time_on_the_nth_working_day(
    issued_at: datetime, n: int, expected: datetime
) -> None:
    deadline = working_day_deadline(issued_at, n)
    assert deadline == expected
    assert deadline.utcoffset() == timedelta(hours=7)
    assert deadline.isoformat() == expected.isoformat()


def test_the_friday_before_tet_2026_plus_five_reads_as_27_february_at_five_pm() -> None:
    deadline = working_day_deadline(datetime(2026, 2, 13, 2, 0, tzinfo=UTC), 5)
    assert deadline.isoformat() == "2026-02-27T17:00:00+07:00"


@pytest.mark.parametrize("n", [0, -1])
def test_fewer_than_one_working_day_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        nth_working_day_after(date(2026, 3, 2), n)
    with pytest.raises(ValueError, match="at least 1"):
        working_day_deadline(local(2026, 3, 2), n)


def test_a_naive_issue_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        working_day_deadline(datetime(2026, 3, 2, 9, 0), 1)
