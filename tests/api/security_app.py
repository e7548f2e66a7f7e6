"""The API app as the `api` fixture builds it (dev server, worker, database), with settings of
a test's own: small limits make their edges visible in a few requests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from config import Settings
from tests.conftest import PUBLIC_URL, ApiClient, running_worker, temporal_address


@asynccontextmanager
async def app_with(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    **overrides: Any,
) -> AsyncIterator[tuple[ApiClient, FastAPI]]:
    admin = f"admin-{uuid.uuid4().hex}"
    settings = Settings(
        database_url=database_url,
        temporal_address=temporal_address(local_env),
        task_queue=task_queue,
        admin_token=admin,
        public_url=PUBLIC_URL,
        **overrides,
    )
    app = create_app(settings)
    async with (
        running_worker(local_env.client, engine, task_queue, executor),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://axis.test", timeout=60
        ) as http,
    ):
        yield ApiClient(http, admin, local_env.client), app
