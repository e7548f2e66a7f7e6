"""A workflow that logs and runs one threaded activity that logs, for the log-line tests. Apart
from the test module, with nothing but the standard library and temporalio, because the sandbox
imports a workflow's module afresh: the workers' own runner runs it, as in production."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="record_step")
def record_step(step: str) -> str:
    logging.getLogger("axis.records").info("recorded %s", step)
    return step


@workflow.defn(name="LoggingWorkflow")
class LoggingWorkflow:
    @workflow.run
    async def run(self, step: str) -> str:
        workflow.logger.info("planning %s", step)
        return await workflow.execute_activity(
            record_step, step, start_to_close_timeout=timedelta(seconds=30)
        )
