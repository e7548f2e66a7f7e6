"""A trivial workflow: started, acknowledged once by an update, and left open. Nothing but
Temporal's own work, for the baseline. Its module imports nothing else: the workflow sandbox
re-imports it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn(name="BenchTrivial")
class TrivialWorkflow:
    """Started, acknowledged once, and left open: nothing but Temporal's own work."""

    def __init__(self) -> None:
        self._acknowledged = False

    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.wait_condition(lambda: False, timeout=timedelta(days=30))
        return name

    @workflow.update
    def acknowledge(self, actor: str) -> bool:
        already = self._acknowledged
        self._acknowledged = True
        return already
