"""The product's Temporal client, for the worker, the catch-up job and scripts: connected with
the tracing interceptor when tracing is on, waiting for a server that is still starting."""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.runtime import Runtime

import tracing
from config import Settings


async def connect(settings: Settings, attempts: int = 60, runtime: Runtime | None = None) -> Client:
    """Connect, waiting for a Temporal server that is still starting."""
    for attempt in range(1, attempts + 1):
        try:
            return await Client.connect(
                settings.resolved_temporal_address,
                namespace=settings.temporal_namespace,
                runtime=runtime,
                # The worker takes the tracing interceptor from its client, and the fan-out
                # starts assignments with this client, so their spans join the directive's trace.
                interceptors=tracing.client_interceptors(),
            )
        except RuntimeError:
            if attempt == attempts:
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")
