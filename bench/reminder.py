"""The raw ceiling of a reminder: a workflow that sleeps until its instant, records one row by
an activity, and stays open as a reminded assignment does. Its module imports nothing else: the
workflow sandbox re-imports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

RECORD_REMINDER = "bench_record_reminder"


@dataclass
class ReminderInput:
    batch: str
    name: str
    # Seconds since the epoch: the instant the reminder falls due.
    due: float


@workflow.defn(name="BenchReminder")
class ReminderWorkflow:
    @workflow.run
    async def run(self, request: ReminderInput) -> str:
        left = request.due - workflow.now().timestamp()
        if left > 0:
            await workflow.sleep(left)
        await workflow.execute_activity(
            RECORD_REMINDER, request, start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.wait_condition(lambda: False, timeout=timedelta(days=30))
        return request.name
