"""Waiting for a directive's fan-out: the one place the tests ask a directive its progress."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from vocabulary.directives import DirectiveStatus
from workflows.directive import DirectiveWorkflow
from workflows.types import DirectiveRevision

# One query waits this long at most. A query is answered by a workflow task, and one can be
# held without an answer: sent to the sticky queue of a worker just killed, or dispatched while
# a worker with no workflow cache (CI's second pass) is busy replaying histories on two cores.
# Such a query waited for the client's own deadline, longer than a test's whole wait; bounded,
# it is asked again and reaches the worker as it is now.
QUERY_TIMEOUT = timedelta(seconds=5)
ASK_AGAIN_AFTER = 0.05


async def until_fanned_out(
    handle: WorkflowHandle[DirectiveWorkflow, DirectiveRevision], seconds: float
) -> float:
    """Wait until the directive has left `issuing` (every assignment workflow started, every
    issue notice recorded); the monotonic moment it was seen. Fails after `seconds`."""
    give_up = time.monotonic() + seconds
    last = "never answered"
    while time.monotonic() < give_up:
        try:
            progress = await handle.query(DirectiveWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as e:
            if e.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                raise
            last = f"the progress query timed out: {e.message}"
        else:
            if progress.status != DirectiveStatus.ISSUING:
                return time.monotonic()
            last = f"still {progress.status.value}: {progress}"
        await asyncio.sleep(ASK_AGAIN_AFTER)
    raise AssertionError(f"the directive's fan-out did not finish in {seconds} s ({last})")
