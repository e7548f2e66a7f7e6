"""A workflow that reads the wall clock, which no workflow may: run under the worker's runner,
its first workflow task must fail. Kept apart from the test module, with nothing but the
standard library and temporalio, because the sandbox imports a workflow's module afresh."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow


@workflow.defn(name="ReadsTheWallClock")
class ReadsTheWallClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()
