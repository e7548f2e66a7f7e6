"""The one way the use cases start a workflow and send it an update, and the one reading of what
the workflow engine answers: its refusals and outages become `services.errors`. Also the one
check that a deadline the office gives is still ahead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.errors import EngineUnavailable, Invalid, Refused

T = TypeVar("T")

# What the engine answers for an update to a workflow that has finished (or never ran).
CLOSED_STATUSES = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


def check_deadline_ahead(deadline: datetime | None, now: datetime) -> None:
    """A deadline given by the office must still be ahead (None: none given)."""
    if deadline is not None and deadline <= now:
        raise Invalid("the deadline is in the past")


async def start_or_join(
    client: Client,
    workflow: Any,
    argument: object,
    *,
    workflow_id: str,
    task_queue: str,
    unstarted: Callable[[str], str],
    task_timeout: timedelta | None = None,
) -> None:
    """Start the workflow, or join the one already running under this id; a finished one is
    left finished. Safe to call any number of times (a double click starts one run). An engine
    that does not answer is `EngineUnavailable`, with `unstarted(reason)` as its message."""
    try:
        await client.start_workflow(
            workflow,
            argument,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            task_timeout=task_timeout,
        )
    except WorkflowAlreadyStartedError:
        # Finished already (closed or recalled): nothing to start.
        return
    except RPCError as e:
        raise EngineUnavailable(unstarted(e.message)) from e


def refusal_message(error: WorkflowUpdateFailedError) -> str:
    """What the workflow said when it refused an update."""
    cause = error.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)


def engine_unavailable(error: RPCError | WorkflowAlreadyStartedError) -> EngineUnavailable:
    return EngineUnavailable(f"the workflow engine refused: {getattr(error, 'message', error)}")


async def send_update(call: Awaitable[T], closed: Callable[[], str]) -> T:
    """Send one update to a workflow: its refusal is `Refused` with the workflow's reason, a
    finished workflow `Refused` with `closed()`, an engine that does not answer
    `EngineUnavailable`."""
    try:
        return await call
    except WorkflowUpdateFailedError as e:
        raise Refused(refusal_message(e)) from e
    except RPCError as e:
        if e.status in CLOSED_STATUSES:
            raise Refused(closed()) from e
        raise engine_unavailable(e) from e
