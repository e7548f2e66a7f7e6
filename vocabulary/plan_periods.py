"""The periods of a plan's task that is reported every month, quarter, half or year ("Thường
xuyên", "Hằng quý", "Định kỳ 6 tháng", "Năm 2026 và hằng năm đến 2030"): which period holds a
day, when the schedule that opens each period fires, and the names of that schedule and its
workflow. One place, read by the office's issue and by the schedule alike. Standard library
only."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time

from vocabulary.calendar import VIETNAM
from vocabulary.deadline_text import ReportEvery
from vocabulary.directives import DirectivePolicy, EscalationStep
from vocabulary.roles import Role

PERIOD_MONTHS = {
    ReportEvery.MONTH: 1,
    ReportEvery.QUARTER: 3,
    ReportEvery.HALF: 6,
    ReportEvery.YEAR: 12,
}
# Each period opens five minutes into its first day, Vietnam time.
_CRON_MONTHS = {
    ReportEvery.MONTH: "*",
    ReportEvery.QUARTER: "1,4,7,10",
    ReportEvery.HALF: "1,7",
    ReportEvery.YEAR: "1",
}


def period_holding(every: ReportEvery, day: date) -> tuple[date, date]:
    """The first and last day of the period of `every` that holds `day`."""
    months = PERIOD_MONTHS[every]
    first_month = (day.month - 1) // months * months + 1
    last_month = first_month + months - 1
    return (
        date(day.year, first_month, 1),
        date(day.year, last_month, calendar.monthrange(day.year, last_month)[1]),
    )


def schedule_cron(every: ReportEvery) -> str:
    return f"5 0 1 {_CRON_MONTHS[every]} *"


def due_moment(day: date) -> datetime:
    """A task's day as the moment it falls due: the end of that day in Vietnam."""
    return datetime.combine(day, time(23, 59), tzinfo=VIETNAM)


def task_schedule_id(task_id: int) -> str:
    return f"plan-task-{task_id}"


def task_period_workflow_id(task_id: int) -> str:
    # The schedule appends the moment it fired, so each period's run has an id of its own.
    return f"plan-task-period-{task_id}"


DAY = 86_400
# A task's ladder: reminders a week and a day before the deadline and a day after it to the
# lead unit's head; the committee leader in charge a day past it, the steering office a week
# past it.
TASK_POLICY = DirectivePolicy(
    reminder_offsets_seconds=[7 * DAY, DAY, -DAY],
    escalation=[
        EscalationStep(after_seconds=DAY, to=Role.COMMITTEE_LEADER),
        EscalationStep(after_seconds=7 * DAY, to=Role.STEERING_OFFICE),
    ],
)
