"""The score trend on a commune's page: snapshots placed left to right, 0–100 bottom to top,
days with no score left out, and today's score added when today has no snapshot yet."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from web.scores_pages import trend_chart, trend_points


def test_points_are_placed_by_day_and_score() -> None:
    chart = trend_chart([("2026-11-01", 100.0), ("2026-11-02", None), ("2026-11-03", 50.0)])
    # 640 × 200 with a 32-pixel margin: x from 32 to 608, y from 32 (100) to 168 (0).
    assert [(d["x"], d["y"], d["day"]) for d in chart["dots"]] == [
        (32.0, 32.0, "2026-11-01"),
        (608.0, 100.0, "2026-11-03"),
    ]
    assert chart["line"] == "32.0,32.0 608.0,100.0"
    assert [(g["value"], g["y"]) for g in chart["grid"]] == [
        (0, 168.0),
        (50, 100.0),
        (75, 66.0),
        (90, 45.6),
        (100, 32.0),
    ]


def test_todays_score_ends_the_trend_unless_a_snapshot_of_today_exists() -> None:
    # 20:00 UTC on 30 November is 03:00 on 1 December in Vietnam.
    now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    snapshots = [SimpleNamespace(snapshot_date="2026-11-30", score=80.0)]
    assert trend_points(snapshots, {"score": 90.0}, now) == [
        ("2026-11-30", 80.0),
        ("2026-12-01", 90.0),
    ]
    taken = [*snapshots, SimpleNamespace(snapshot_date="2026-12-01", score=85.0)]
    assert trend_points(taken, {"score": 90.0}, now) == [("2026-11-30", 80.0), ("2026-12-01", 85.0)]
