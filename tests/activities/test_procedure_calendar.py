"""Due times of dossiers on the Vietnamese calendar, each checked by hand against
`holidays.country_holidays("VN")`: Tết 2027 is Thu 4 – Wed 10 Feb; Sat 22 Aug 2026 is a
working Saturday, paid back on Mon 31 Aug, before National Day on Tue 1 and Wed 2 Sep 2026."""

from __future__ import annotations

from datetime import datetime

import pytest

from vocabulary.calendar import VIETNAM, processing_due, resumed_due, working_days_between


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM)


def close(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 17, 0, tzinfo=VIETNAM)


@pytest.mark.parametrize(
    ("received", "amount", "unit", "due"),
    [
        # The Friday before Tết 2027, five working days: Mon 1, Tue 2, Wed 3 Feb, then Tết
        # (Thu 4 – Wed 10), then Thu 11 and Fri 12 Feb.
        (at(2027, 1, 29), 5, "working_days", close(2027, 2, 12)),
        # Thu 20 Aug 2026, three working days: Fri 21, the working Sat 22, Mon 24.
        (at(2026, 8, 20), 3, "working_days", close(2026, 8, 24)),
        # Fri 28 Aug 2026, two: Mon 31 (swapped off), Tue 1 and Wed 2 Sep (National Day) are
        # off, so Thu 3 and Fri 4 Sep.
        (at(2026, 8, 28), 2, "working_days", close(2026, 9, 4)),
        # Received on a Saturday: the first working day counted is Monday.
        (at(2026, 12, 5), 1, "working_days", close(2026, 12, 7)),
        # Thirty calendar days from Mon 4 Jan 2027: Wed 3 Feb, a working day.
        (at(2027, 1, 4), 30, "calendar_days", close(2027, 2, 3)),
        # From Fri 8 Jan 2027 they end on Sun 7 Feb, inside Tết: moved to Thu 11 Feb.
        (at(2027, 1, 8), 30, "calendar_days", close(2027, 2, 11)),
    ],
)
def test_due_times_of_working_and_calendar_day_limits(
    received: datetime, amount: int, unit: str, due: datetime
) -> None:
    assert processing_due(received, amount, unit) == due


def test_a_calendar_day_limit_may_end_on_a_day_off_when_configured() -> None:
    assert processing_due(at(2027, 1, 8), 30, "calendar_days", roll_to_working_day=False) == close(
        2027, 2, 7
    )


def test_counting_the_receipt_day_when_the_rule_says_so() -> None:
    # Wed 2 Dec 2026 counts as day 1: Wed, Thu, Fri.
    assert processing_due(at(2026, 12, 2), 3, "working_days", count_receipt_day=True) == close(
        2026, 12, 4
    )
    assert processing_due(at(2026, 12, 2), 3, "working_days") == close(2026, 12, 7)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (at(2026, 12, 2, 14, 59), close(2026, 12, 2)),
        (at(2026, 12, 2, 15, 0), close(2026, 12, 2)),
        (at(2026, 12, 2, 15, 1), close(2026, 12, 3)),
        # After 15:00 on a Friday: Monday.
        (at(2026, 12, 4, 16, 0), close(2026, 12, 7)),
        # On the Friday before Tết 2027 after the cut-off: Mon 1 Feb.
        (at(2027, 1, 29, 15, 30), close(2027, 2, 1)),
        # Wed 3 Feb 2027 after the cut-off: Tết, so Thu 11 Feb.
        (at(2027, 2, 3, 15, 30), close(2027, 2, 11)),
        # A day off: the next working day.
        (at(2026, 9, 1, 9, 0), close(2026, 9, 3)),
    ],
)
def test_same_day_procedures_have_a_15_00_cut_off(received: datetime, due: datetime) -> None:
    assert processing_due(received, 0, "same_day") == due


def test_a_supplement_pause_moves_the_due_date_by_the_working_days_paused() -> None:
    # Received Mon 7 Dec 2026, 5 working days: due Mon 14 Dec. Paused Wed 9, resumed Fri 11:
    # Thu 10 and Fri 11 were paused, so the due date moves two working days, to Wed 16 Dec.
    due = processing_due(at(2026, 12, 7, 9), 5, "working_days")
    assert due == close(2026, 12, 14)
    resumed = resumed_due(due, at(2026, 12, 9), at(2026, 12, 11), "working_days")
    assert resumed == close(2026, 12, 16)
    assert working_days_between(close(2026, 12, 14).date(), resumed.date()) == 2


def test_a_pause_across_tet_counts_only_working_days() -> None:
    # Due Fri 12 Feb 2027; paused Wed 3 Feb, resumed Mon 15 Feb. Paused working days: Thu 11,
    # Fri 12, Mon 15 (three). Fri 12 + 3 working days = Wed 17 Feb.
    resumed = resumed_due(close(2027, 2, 12), at(2027, 2, 3), at(2027, 2, 15), "working_days")
    assert resumed == close(2027, 2, 17)


def test_a_pause_of_a_calendar_day_limit_moves_it_by_the_days_paused() -> None:
    # Due Wed 3 Feb 2027 (30 days from Mon 4 Jan); paused Fri 15 Jan (19 days left), resumed
    # Mon 18 Jan: 18 Jan + 19 = Sat 6 Feb, in Tết: Thu 11 Feb.
    resumed = resumed_due(close(2027, 2, 3), at(2027, 1, 15), at(2027, 1, 18), "calendar_days")
    assert resumed == close(2027, 2, 11)
