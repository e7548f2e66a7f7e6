"""One period of a plan's task reported every month, quarter, half or year, opened on its
schedule: a Temporal Schedule per task (`plan-task-{id}`) starts this workflow when a period
begins; one activity stores the period and its directive and starts the directive, whose
assignments then carry the lead units' report for the period (reminders, the ladder) as any
task's do."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.scheduled import scheduled_start

with workflow.unsafe.imports_passed_through():
    from workflows.plan_task_period_types import (
        OPEN_PLAN_TASK_PERIOD,
        OpenedPlanTaskPeriod,
        OpenPlanTaskPeriodInput,
        PlanTaskPeriodInput,
    )
    from workflows.policies import ACTIVITY_RETRY

OPEN_TIMEOUT = timedelta(minutes=2)


@workflow.defn(name="PlanTaskPeriod")
class PlanTaskPeriodWorkflow:
    @workflow.run
    async def run(self, request: PlanTaskPeriodInput) -> OpenedPlanTaskPeriod:
        return await workflow.execute_activity(
            OPEN_PLAN_TASK_PERIOD,
            OpenPlanTaskPeriodInput(
                task_id=request.task_id, at=scheduled_start(), opened_at=workflow.now()
            ),
            result_type=OpenedPlanTaskPeriod,
            start_to_close_timeout=OPEN_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
