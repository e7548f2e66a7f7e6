"""The one way the use cases start a workflow and send it an update, and the one reading of what
the workflow engine answers: its refusals and outages become `services.errors`. Also the one
check that a deadline the office gives is still ahead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.errors import EngineUnavailable, Invalid, Refused, ServiceError

T = TypeVar("T")

# What the engine answers for an update to a workflow that has finished (or never ran).
FINISHED_STATUSES = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


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


def _refusal_message(cause: BaseException | None, error: WorkflowUpdateFailedError) -> str:
    """What the workflow said when it refused an update."""
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)


async def send_update(
    call: Awaitable[T],
    closed: Callable[[], Awaitable[ServiceError]],
    *,
    refusals: Callable[[ApplicationError], Exception | None] = lambda cause: None,
    closed_statuses: tuple[RPCStatusCode, ...] = FINISHED_STATUSES,
) -> T:
    """Send one update to a workflow (or an update-with-start) and read what the engine
    answers: the workflow's refusal is `Refused` with its reason (or what `refusals` makes of a
    refusal of a kind of `vocabulary.refusals`), a workflow that has finished is `await
    closed()`, an engine that does not answer `EngineUnavailable`."""
    try:
        return await call
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        special = refusals(cause) if isinstance(cause, ApplicationError) else None
        if special is not None:
            raise special from e
        raise Refused(_refusal_message(cause, e)) from e
    except WorkflowUpdateRPCTimeoutOrCancelledError as e:
        # The engine took the update but did not answer in time (a thousand at once): the same
        # request may be repeated, with its idempotency key answered once.
        raise EngineUnavailable("the workflow engine did not answer in time; try again") from e
    except (RPCError, WorkflowAlreadyStartedError) as e:
        # An update-with-start finds the id taken by a run that has finished.
        if isinstance(e, WorkflowAlreadyStartedError) or e.status in closed_statuses:
            raise await closed() from e
        raise EngineUnavailable(f"the workflow engine refused: {getattr(e, 'message', e)}") from e


def refused_as(message: str) -> Callable[[], Awaitable[ServiceError]]:
    """A `closed` answer for `send_update` that needs no lookup: `Refused` with this message."""

    async def closed() -> ServiceError:
        return Refused(message)

    return closed
