"""What a route or a page reads its request's plumbing from, as type aliases so a signature
reads like a sentence: `SessionDep`, `SettingsDep`, `TemporalDep`, `ThreadSessionsDep`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

import tracing
from config import Settings
from db.thread_sessions import ThreadSessions

TEMPORAL_CONNECT_SECONDS = 5.0


class TemporalGateway:
    """One client per API process, connected on first use so the API starts (and reports its
    health) even while Temporal is down."""

    def __init__(self, address: str, namespace: str) -> None:
        self.address = address
        self._namespace = namespace
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(
                        Client.connect(
                            self.address,
                            namespace=self._namespace,
                            # The API's starts, updates and signals join the request's trace.
                            interceptors=tracing.client_interceptors(),
                        ),
                        TEMPORAL_CONNECT_SECONDS,
                    )
                except (RuntimeError, TimeoutError) as e:
                    raise HTTPException(
                        status.HTTP_503_SERVICE_UNAVAILABLE,
                        f"the workflow engine (Temporal at {self.address}) is not reachable",
                    ) from e
        return self._client


# The dependencies here are `async def` though they await nothing: FastAPI runs a plain `def`
# dependency in a thread, a hop there and back on every request that names it.


async def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with maker() as session:
        yield session


async def thread_sessions_of(request: Request) -> ThreadSessions:
    sessions: ThreadSessions = request.app.state.thread_sessions
    return sessions


async def get_temporal(request: Request) -> Client:
    gateway: TemporalGateway = request.app.state.temporal
    return await gateway.get()


SettingsDep = Annotated[Settings, Depends(settings_of)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
ThreadSessionsDep = Annotated[ThreadSessions, Depends(thread_sessions_of)]
