"""One period of a recurring obligation, for every commune at once: a Temporal Schedule starts
this workflow each week; it opens the period for all communes in one batch activity, waits
for the period's end on a durable timer, and closes it as met or missed in one batch activity.
Nothing here loops over communes: 102 or 3,321 communes cost the same two activities.

The week is the one the schedule fired for, not the one the workflow happens to run in: after an
outage the schedule's catch-up (or a worker that comes back) runs each missed week late, and
each must open its own week."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.scheduled import scheduled_start

# The message types pass through the sandbox, so their datetimes are the real class.
with workflow.unsafe.imports_passed_through():
    from workflows.obligation_types import (
        CLOSE_OBLIGATION_PERIOD,
        OPEN_OBLIGATION_PERIOD,
        ClosePeriodInput,
        ObligationPeriodInput,
        OpenedPeriod,
        OpenPeriodInput,
        PeriodOutcome,
    )
    from workflows.policies import ACTIVITY_RETRY

BATCH_TIMEOUT = timedelta(minutes=2)
WEEK_OF_SCHEDULED_START = "obligation-week-of-scheduled-start"


@workflow.defn
class ObligationPeriodWorkflow:
    @workflow.run
    async def run(self, request: ObligationPeriodInput) -> PeriodOutcome:
        if workflow.patched(WEEK_OF_SCHEDULED_START):
            period = OpenPeriodInput(
                recurring_id=request.recurring_id, at=scheduled_start(), opened_at=workflow.now()
            )
        else:
            period = OpenPeriodInput(recurring_id=request.recurring_id, at=workflow.now())
        opened = await workflow.execute_activity(
            OPEN_OBLIGATION_PERIOD,
            period,
            result_type=OpenedPeriod,
            start_to_close_timeout=BATCH_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        if not opened.applicable:
            return PeriodOutcome(
                recurring_id=request.recurring_id,
                starts_at=opened.starts_at,
                not_applicable=opened.communes,
            )
        left = opened.ends_at - workflow.now()
        if left > timedelta(0):
            await workflow.sleep(left)
        return await workflow.execute_activity(
            CLOSE_OBLIGATION_PERIOD,
            ClosePeriodInput(recurring_id=request.recurring_id, starts_at=opened.starts_at),
            result_type=PeriodOutcome,
            start_to_close_timeout=BATCH_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
