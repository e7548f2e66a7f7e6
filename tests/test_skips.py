"""A skip fails the run when any AXIS_TEST_REQUIRE_ variable is "1", except the suite's
legitimate skips (a tool or server whose own variable is not set)."""

from __future__ import annotations

import pytest

from tests.skips import fail_unexpected_skip

DATES = "Skipped: the scenario's hand-computed dates have passed: move them to the next Tết"
PROMTOOL = "Skipped: no promtool (make promtool installs Debian's prometheus package)"


def skipped(reason: str, when: str = "call") -> pytest.TestReport:
    return pytest.TestReport(
        "tests/x.py::t",
        ("tests/x.py", 1, "t"),
        {},
        "skipped",
        ("tests/x.py", 1, reason),
        when,  # type: ignore[arg-type]
    )


def test_a_skip_fails_when_a_requirement_is_set() -> None:
    for when in ("setup", "call"):
        report = skipped(DATES, when)
        fail_unexpected_skip(report, {"AXIS_TEST_REQUIRE_POSTGRES": "1"})
        assert (report.outcome, report.longrepr) == (
            "failed",
            "skipped while AXIS_TEST_REQUIRE_POSTGRES is set, and a skip here means a test that "
            f"stopped testing: {DATES}",
        )


def test_a_skip_stays_a_skip_when_nothing_is_required() -> None:
    for environ in ({}, {"AXIS_TEST_REQUIRE_BROWSER": "0"}, {"OTHER": "1"}):
        report = skipped(DATES)
        fail_unexpected_skip(report, environ)
        assert report.outcome == "skipped"


def test_a_missing_tool_skips_unless_its_own_variable_requires_it() -> None:
    kept = skipped(PROMTOOL)
    fail_unexpected_skip(kept, {"AXIS_TEST_REQUIRE_POSTGRES": "1"})
    assert kept.outcome == "skipped"
    failed = skipped(PROMTOOL)
    fail_unexpected_skip(failed, {"AXIS_TEST_REQUIRE_PROMTOOL": "1"})
    assert failed.outcome == "failed"


def test_passes_and_expected_failures_are_left_alone() -> None:
    passed = pytest.TestReport("t", ("x", 1, "t"), {}, "passed", None, "call")
    expected = skipped("reason")
    expected.wasxfail = "known"
    for report in (passed, expected):
        fail_unexpected_skip(report, {"AXIS_TEST_REQUIRE_POSTGRES": "1"})
    assert (passed.outcome, expected.outcome) == ("passed", "skipped")
