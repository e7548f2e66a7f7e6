"""The ids of recurring obligations' schedules and period workflows."""

from __future__ import annotations


def recurring_schedule_id(recurring_id: int) -> str:
    return f"recurring-{recurring_id}"


def obligation_period_workflow_id(recurring_id: int) -> str:
    # A schedule appends the time of each run to this id.
    return f"recurring-{recurring_id}-period"
