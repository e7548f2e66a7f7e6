"""The figures reliability and scale tests report: each test records what it measured with
`figure("…")`, and pytest prints them all in a section of its terminal summary.

A figure travels in its test's report (`user_properties`), so the summary has it too when the
test ran in another process (pytest-xdist)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

FIGURE = "figure"
FIGURES: list[str] = []


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    def record(text: str) -> None:
        request.node.user_properties.append((FIGURE, f"{request.node.name}: {text}"))

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Each phase's report carries every property recorded so far: the teardown's has them all.
    if report.when == "teardown":
        FIGURES.extend(str(value) for name, value in report.user_properties if name == FIGURE)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
