"""Fan-out: start one assignment workflow per commune, and relay a directive's amendment or
recall to its open assignments. Both talk to Temporal through the client, concurrently, with
deterministic workflow ids, so a retried activity starts or signals nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows import activity_names
from workflows.assignment import AssignmentWorkflow
from workflows.types import (
    AssignmentInput,
    RelayChangeInput,
    StartAssignmentsInput,
    assignment_workflow_id,
)

# Calls in flight at once: enough to saturate the server, few enough not to trip its limits.
MAX_CONCURRENT_CALLS = 64


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
                    AssignmentInput(
                        directive_id=plan.directive_id,
                        commune_code=code,
                        deadline=plan.deadline,
                        acknowledge_by=plan.acknowledge_by,
                        policy=request.policy,
                        issued_at=request.issued_at,
                    ),
                    id=assignment_workflow_id(plan.directive_id, code),
                    task_queue=request.task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    # A finished assignment is never started again by a retry.
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
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
