"""When a skip is a failure: with any `AXIS_TEST_REQUIRE_*` variable set to "1" (as in CI), a
test that skips has stopped testing without anyone seeing it, unless it skips for want of a tool
or server that this run does not require."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

REQUIRE_PREFIX = "AXIS_TEST_REQUIRE_"
# The suite's legitimate skips, by what their reason names, and the variable that turns each
# into a requirement (the tests themselves stop skipping when it is "1").
REQUIRED_BY = {
    "no promtool": "AXIS_TEST_REQUIRE_PROMTOOL",
    "no Chromium": "AXIS_TEST_REQUIRE_BROWSER",
    "PostgreSQL does not answer": "AXIS_TEST_REQUIRE_POSTGRES",
}


def skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return str(report.longrepr)


def fail_unexpected_skip(report: pytest.TestReport, environ: Mapping[str, str]) -> None:
    """Turn `report` from skipped into failed when a requirement is set and the skip is not one
    of REQUIRED_BY's whose variable is unset."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    required = {name for name, value in environ.items() if name.startswith(REQUIRE_PREFIX)}
    required = {name for name in required if environ[name] == "1"}
    if not required:
        return
    reason = skip_reason(report)
    for needle, variable in REQUIRED_BY.items():
        if needle in reason and variable not in required:
            return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped while {', '.join(sorted(required))} is set, and a skip here means a test "
        f"that stopped testing: {reason}"
    )
