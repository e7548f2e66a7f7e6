"""Messages of the workflow that opens an indicator's reporting period on its schedule.
Standard library only: imported in the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OPEN_INDICATOR_PERIOD = "open_indicator_period"


@dataclass
class IndicatorPeriodInput:
    indicator_code: str


@dataclass
class OpenIndicatorPeriodInput:
    indicator_code: str
    # The moment the schedule fired: the period opened is the one that ended last before it
    # (Asia/Ho_Chi_Minh), so a run late after an outage opens its own period, not a later one.
    at: datetime
    opened_at: datetime


@dataclass
class OpenedIndicatorPeriod:
    indicator_code: str
    # ISO dates; empty when nothing was opened (the indicator is gone, or an agency's).
    period_start: str
    period_end: str
    directive_id: int | None
    tasks: int
    created: bool
    note: str = ""
