"""Periods as people name them, bounded by midnight in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scoring.periods import PeriodError, parse_period
from scoring.rules import RulesError, known_versions, load_rules, rules_in_effect


def utc(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "key", "start", "end"),
    [
        ("2026-11", "2026-11", utc(2026, 10, 31, 17), utc(2026, 11, 30, 17)),
        ("2026-Q4", "2026-Q4", utc(2026, 9, 30, 17), utc(2026, 12, 31, 17)),
        ("2026-q1", "2026-Q1", utc(2025, 12, 31, 17), utc(2026, 3, 31, 17)),
        ("2026", "2026", utc(2025, 12, 31, 17), utc(2026, 12, 31, 17)),
        ("2026-02-01..2026-02-28", "2026-02-01..2026-02-28", utc(2026, 1, 31, 17),
         utc(2026, 2, 28, 17)),
    ],
)  # fmt: skip
def test_a_period_runs_from_midnight_to_midnight_in_vietnam(
    text: str, key: str, start: datetime, end: datetime
) -> None:
    period = parse_period(text)
    assert (period.key, period.start, period.end) == (key, start, end)


def test_from_and_to_include_both_days() -> None:
    period = parse_period(None, date(2026, 11, 1), date(2026, 11, 15))
    assert period.key == "2026-11-01..2026-11-15"
    assert period.end == datetime(2026, 11, 15, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["2026-00", "2026-13", "2026-Q0", "2026-Q5", "26", "0000", "2026-02-30..2026-03-01", ""]
)
def test_a_period_that_cannot_be_read_is_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_the_rule_set_in_effect_follows_the_effective_dates() -> None:
    assert rules_in_effect(date(2026, 12, 31)).version == "v1"
    # v4 and v5 take effect on the days v2 and v3 were to, and replace them: of two versions
    # effective the same day, the later one is in effect.
    assert rules_in_effect(date(2027, 1, 1)).version == "v4"
    assert rules_in_effect(date(2027, 6, 30)).version == "v4"
    assert rules_in_effect(date(2027, 7, 1)).version == "v5"
    assert rules_in_effect(date(2020, 1, 1)).version == "v1"  # before any: the earliest
    assert [i.weight for i in load_rules("v2").indicators] == [70, 10, 20, 0, 10]
    assert rules_in_effect(date(2027, 12, 31)).version == "v5"
    assert rules_in_effect(date(2028, 1, 1)).version == "v6"
    assert known_versions() == ["v1", "v2", "v3", "v4", "v5", "v6"]
    with pytest.raises(RulesError):
        load_rules("../v1")
