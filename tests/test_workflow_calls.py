"""How the use cases read what the workflow engine answers to an update."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from services.errors import EngineUnavailable
from services.workflow_calls import refused_as, send_update


async def timed_out() -> object:
    raise WorkflowUpdateRPCTimeoutOrCancelledError()


async def test_an_update_the_engine_does_not_answer_in_time_is_engine_unavailable() -> None:
    """A thousand acknowledgements at once: an update the engine took but did not answer in
    time is a 503 that may be repeated, not a 500."""
    with pytest.raises(EngineUnavailable) as raised:
        await send_update(timed_out(), refused_as("closed"))
    assert str(raised.value) == "the workflow engine did not answer in time; try again"
