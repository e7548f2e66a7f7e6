"""Messages of the workflow that opens a period of a plan's task reported every period, on the
task's schedule. Standard library only: imported in the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OPEN_PLAN_TASK_PERIOD = "open_plan_task_period"


@dataclass
class PlanTaskPeriodInput:
    task_id: int


@dataclass
class OpenPlanTaskPeriodInput:
    task_id: int
    # The moment the schedule fired: the period opened is the one holding it (Asia/Ho_Chi_Minh),
    # so a run late after an outage opens its own period, not a later one.
    at: datetime
    opened_at: datetime


@dataclass
class OpenedPlanTaskPeriod:
    task_id: int
    # ISO dates; empty when nothing was opened (the task is gone, or its reports have ended).
    starts_on: str
    ends_on: str
    directive_id: int | None
    created: bool
