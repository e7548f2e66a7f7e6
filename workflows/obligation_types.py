"""Messages of recurring obligations ("each commune reports at least two digital-
transformation activities every week"). Standard library only: imported in the sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

OPEN_OBLIGATION_PERIOD = "open_obligation_period"
CLOSE_OBLIGATION_PERIOD = "close_obligation_period"


@dataclass
class ObligationPeriodInput:
    recurring_id: int


@dataclass
class OpenPeriodInput:
    recurring_id: int
    # The moment the schedule fired; the period is the week (Asia/Ho_Chi_Minh) holding it.
    at: datetime
    # The moment the period opens (None: as `at`, from runs before it was sent). A week that
    # opens only after it has ended, after an outage, could take no report: it owes nothing.
    opened_at: datetime | None = None


@dataclass
class OpenedPeriod:
    recurring_id: int
    starts_at: datetime
    ends_at: datetime
    # False: no working day in the period and the rule skips holidays, or the recurring
    # directive is gone; nothing is owed.
    applicable: bool
    communes: int = 0


@dataclass
class ClosePeriodInput:
    recurring_id: int
    starts_at: datetime


@dataclass
class PeriodOutcome:
    recurring_id: int
    starts_at: datetime
    met: int = 0
    missed: int = 0
    not_applicable: int = 0
    communes_missed: list[str] = field(default_factory=list)
