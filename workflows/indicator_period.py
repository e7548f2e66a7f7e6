"""One reporting period of an indicator, opened on its schedule: a Temporal Schedule per
indicator (`indicator-{code}`) starts this workflow when a period has ended; one activity
stores the period and its directive and starts the directive, whose assignments then carry the
communes' reporting tasks (reminders, escalation) as any directive's do."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.scheduled import scheduled_start

with workflow.unsafe.imports_passed_through():
    from workflows.indicator_period_types import (
        OPEN_INDICATOR_PERIOD,
        IndicatorPeriodInput,
        OpenedIndicatorPeriod,
        OpenIndicatorPeriodInput,
    )
    from workflows.policies import ACTIVITY_RETRY

OPEN_TIMEOUT = timedelta(minutes=2)


@workflow.defn(name="IndicatorPeriod")
class IndicatorPeriodWorkflow:
    @workflow.run
    async def run(self, request: IndicatorPeriodInput) -> OpenedIndicatorPeriod:
        return await workflow.execute_activity(
            OPEN_INDICATOR_PERIOD,
            OpenIndicatorPeriodInput(
                indicator_code=request.indicator_code,
                at=scheduled_start(),
                opened_at=workflow.now(),
            ),
            result_type=OpenedIndicatorPeriod,
            start_to_close_timeout=OPEN_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
