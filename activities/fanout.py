"""Fan-out: start one assignment workflow per commune, and relay a directive's amendment or
recall to its open assignments. Both talk to Temporal through the client, concurrently, with
deterministic workflow ids, so a retried activity starts or signals nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from vocabulary.directives import assignment_workflow_id
from workflows import activity_names
from workflows.assignment import AssignmentWorkflow
from workflows.types import RelayChangeInput, StartAssignmentsInput, assignment_input

# Calls in flight at once: enough to saturate the server, few enough not to trip its limits.
MAX_CONCURRENT_CALLS = 64


def assignment_start_options(request: StartAssignmentsInput, commune_code: str) -> dict[str, Any]:
    """How an assignment workflow is started, by the fan-out or by an early answer: one id per
    commune, a running one is joined, and a finished one is never started again."""
    return {
        "id": assignment_workflow_id(request.plan.directive_id, commune_code),
        "task_queue": request.task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    }


class FanOutActivities:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name=activity_names.START_ASSIGNMENTS)
    async def start_assignments(self, request: StartAssignmentsInput) -> int:
        """Start the assignment workflow of every commune of the plan. An assignment that is
        already running, or already finished, is left alone: calling this twice starts nothing."""
        plan = request.plan

        async def start(code: str) -> None:
            try:
                await self._client.start_workflow(
                    AssignmentWorkflow.run,
                    assignment_input(request, code),
                    **assignment_start_options(request, code),
                )
            except WorkflowAlreadyStartedError:
                pass

        await _bounded(plan.communes, start)
        return len(plan.communes)

    @activity.defn(name=activity_names.RELAY_CHANGE)
    async def relay_change(self, request: RelayChangeInput) -> int:
        """Signal an amendment or recall to each open assignment. Assignments ignore a revision
        they already have, so a repeated relay changes nothing; a finished one is skipped."""
        delivered = 0

        async def relay(code: str) -> None:
            nonlocal delivered
            handle = self._client.get_workflow_handle(
                assignment_workflow_id(request.directive_id, code)
            )
            try:
                await handle.signal(AssignmentWorkflow.apply_change, request.change)
                delivered += 1
            except RPCError as e:
                if e.status != RPCStatusCode.NOT_FOUND:
                    raise

        await _bounded(request.communes, relay)
        return delivered


async def _bounded(codes: list[str], call: Callable[[str], Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(MAX_CONCURRENT_CALLS)
    done = 0

    async def one(code: str) -> None:
        nonlocal done
        async with gate:
            await call(code)
        done += 1
        activity.heartbeat(done)

    await asyncio.gather(*(one(code) for code in codes))
