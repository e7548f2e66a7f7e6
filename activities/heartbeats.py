"""Heartbeats for activities that do one long piece of work at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")
# Well inside the workflows' heartbeat timeouts (10 s for the fan-out and the notices).
HEARTBEAT_EVERY_SECONDS = 3.0


async def while_heartbeating(work: Awaitable[T]) -> T:
    """Await `work`, heartbeating meanwhile. The work may run on a thread (which cannot
    heartbeat an async activity itself): rendering thousands of messages stays alive, and a
    dead worker is still noticed within the heartbeat timeout."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_SECONDS)
        if done:
            return task.result()
        activity.heartbeat()
