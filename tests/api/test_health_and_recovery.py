"""What the API says when Temporal is away, and how a directive stored but never started (the
API process died in between) is started by the reconciler."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from api.main import resume_issuing_directives
from app import create_app
from config import Settings
from db.models import Directive
from tests.conftest import PUBLIC_URL, running_worker, temporal_address
from tests.factories import store_directive
from tests.workflows.helpers import DAY
from vocabulary.directives import DirectivePolicy


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@asynccontextmanager
async def serve(
    database_url: str, temporal: str, task_queue: str = "unused"
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    admin = f"admin-{uuid.uuid4().hex}"
    app = create_app(
        Settings(
            database_url=database_url,
            temporal_address=temporal,
            task_queue=task_queue,
            admin_token=admin,
            public_url=PUBLIC_URL,
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://axis.test",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=60,
        ) as http,
    ):
        yield app, http, admin


async def test_health_reports_each_dependency(
    local_env: WorkflowEnvironment, database_url: str
) -> None:
    async with serve(database_url, temporal_address(local_env)) as (_, http, _):
        answer = await http.get("/healthz")
    assert (answer.status_code, answer.json()) == (
        200,
        {"status": "ok", "database": "ok", "temporal": "ok"},
    )
    async with serve(database_url, closed_port()) as (_, http, _):
        answer = await http.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["database"] == "ok"
    assert answer.json()["temporal"].startswith("error: the workflow engine (Temporal at")


async def test_issuing_while_temporal_is_away_is_refused_and_stores_nothing(
    database_url: str, engine: Engine
) -> None:
    body = {
        "title": "Rà soát hạ tầng số",
        "body": "Báo cáo hiện trạng.",
        "deadline": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
    }
    before = directive_count(engine)
    async with serve(database_url, closed_port()) as (_, http, _):
        refused = await http.post("/api/v1/directives", json=body)
    assert refused.status_code == 503
    assert refused.json()["detail"].endswith("is not reachable")
    assert directive_count(engine) == before


async def test_a_directive_stored_but_never_started_is_started_by_the_reconciler(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    # What an API process that died between storing a directive and starting it leaves behind.
    issued_at = datetime.now(UTC) - timedelta(minutes=5)
    request = store_directive(
        engine, ["24121", "24133"], issued_at, DirectivePolicy(), deadline=issued_at + 10 * DAY
    )
    async with (
        running_worker(local_env.client, engine, task_queue, executor),
        serve(database_url, temporal_address(local_env), task_queue) as (app, http, _),
    ):
        assert await resume_issuing_directives(app) >= 1
        handle = local_env.client.get_workflow_handle(f"directive-{request.directive_id}")
        await handle.execute_update("wait_for_plan")
        directive = (await http.get(f"/api/v1/directives/{request.directive_id}")).json()
        assignments = (
            await http.get(f"/api/v1/directives/{request.directive_id}/assignments")
        ).json()
    assert directive["status"] == "active"
    assert sorted(a["commune_code"] for a in assignments["data"]) == ["24121", "24133"]


def directive_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count(Directive.id))) or 0)
