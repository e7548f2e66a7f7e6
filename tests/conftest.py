"""Shared fixtures: real databases (SQLite, and PostgreSQL when it answers), the Temporal
time-skipping test server and the dev server, each started once per session from the binaries
the PyPI packages ship (nothing is downloaded), and a worker per test on its own task queue."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels.webhook import AllowedHosts
from activities.delivery import delivery_config
from app import create_app
from config import Settings, get_settings
from db.engine import make_engine
from db.migrate import load_communes, upgrade
from db.procedures import load_procedures
from db.roster import DEMO_ROSTER, import_roster
from db.units import load_units
from tests.skips import fail_unexpected_skip
from worker import activity_executor, build_webhook_worker, build_worker

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"
POSTGRES_URL = os.environ.get(
    "AXIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PUBLIC_URL = "http://axis.test"
pytest_plugins = ["tests.figures", "tests.parallel"]


def _postgres_reachable() -> bool:
    url = make_url(POSTGRES_URL)
    try:
        psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.username, dbname=url.database,
            connect_timeout=2,
        ).close()  # fmt: skip
    except psycopg.OperationalError:
        return False
    return True


def _backends() -> list[str]:
    # CI sets AXIS_TEST_REQUIRE_POSTGRES=1: there a missing server is a failure, not a skip.
    if os.environ.get("AXIS_TEST_REQUIRE_POSTGRES") == "1" or _postgres_reachable():
        return ["sqlite", "postgresql"]
    return ["sqlite"]


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """A new, migrated database with the communes and the demo roster; dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'axis.db'}"
        _prepare(url)
        yield url
        return
    name = f"axis_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(POSTGRES_URL)
    conninfo = {
        "host": admin.host, "port": admin.port or 5432, "user": admin.username,
        "dbname": admin.database,
    }  # fmt: skip
    with psycopg.connect(**conninfo, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        _prepare(url)
        yield url
    finally:
        with psycopg.connect(**conninfo, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `one_backend` waits out real time (a receiver's minute-long outage): it
    runs once, on PostgreSQL, the production database, when the run has it, and on SQLite
    otherwise. The other copy is deselected, not skipped."""
    backends = _backends()
    keep = "postgresql" if "postgresql" in backends else "sqlite"
    dropped = [
        item
        for item in items
        if item.get_closest_marker("one_backend") is not None
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database_url", keep) != keep  # type: ignore[attr-defined]
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session", params=_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The session's database, per backend, shared by the tests that only add their own rows."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module", params=_backends())
def scratch_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of a module's own, for tests that change shared data such as the roster."""
    with fresh_database(request.param, tmp_path_factory.mktemp("scratch")) as url:
        yield url


def _prepare(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    load_communes(engine)
    load_procedures(engine)
    load_units(engine)
    import_roster(engine, DEMO_ROSTER, demo=True)
    engine.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    # Sized as the worker sizes its own: the tests' workers share it.
    engine = make_engine(database_url, get_settings().worker_capacity.database_connections)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def executor() -> Iterator[ThreadPoolExecutor]:
    with activity_executor(get_settings().worker_capacity) as pool:
        yield pool


# A time-skipping server per test: a workflow left open by an earlier test (its worker gone)
# would hold the clock still the next time a test moves it.
@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    yield env
    await env.shutdown()


# Each database gets its own dev server: workflow ids follow the directive ids of one database
# (`directive-1`), as they do in production, where one database pairs with one namespace.
@pytest.fixture(scope="session")
async def local_env(database_url: str) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), ui=False, dev_server_log_level="error"
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"axis-test-{uuid.uuid4().hex[:12]}"


def max_cached_workflows() -> int:
    """A test worker's workflow cache: with AXIS_TEST_MAX_CACHED_WORKFLOWS=0 every workflow task
    replays the whole history first, which shakes out nondeterminism (CI's second pass);
    otherwise the SDK's default, 1000."""
    cached = os.environ.get("AXIS_TEST_MAX_CACHED_WORKFLOWS")
    return 1000 if cached is None else int(cached)


@asynccontextmanager
async def running_worker(
    client: Client, engine: Engine, task_queue: str, executor: ThreadPoolExecutor, **options: object
) -> AsyncIterator[Worker]:
    """The product's own worker (real activities) on a test's task queue, with the workflow
    cache `max_cached_workflows` sets."""
    options = {"max_cached_workflows": max_cached_workflows(), **options}
    worker = build_worker(client, engine, task_queue, PUBLIC_URL, executor, **options)
    async with worker:
        yield worker


def temporal_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[ApiClient]:
    """The API app over HTTP (ASGI), backed by the real dev server and a running worker."""
    async with api_app(local_env, database_url, engine, task_queue, executor) as (client, _):
        yield client


@asynccontextmanager
async def api_app(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    webhook_hosts: AllowedHosts | None = None,
    **overrides: object,
) -> AsyncIterator[tuple[ApiClient, FastAPI]]:
    """What the `api` fixture yields, and the app, with settings of a test's own (and the
    hosts its webhook subscriptions may reach despite the guard)."""
    admin = f"admin-{uuid.uuid4().hex}"
    settings = Settings(
        database_url=database_url,
        temporal_address=temporal_address(local_env),
        task_queue=task_queue,
        admin_token=admin,
        public_url=PUBLIC_URL,
        # Rate counts are shared through the session's database: each app counts on its own.
        rate_count_namespace=task_queue,
        **overrides,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    async with (
        running_worker(local_env.client, engine, task_queue, executor),
        build_webhook_worker(
            local_env.client,
            engine,
            task_queue,
            delivery_config(get_settings(), task_queue, engine),
            webhook_hosts or AllowedHosts(),
            max_cached_workflows=max_cached_workflows(),
        ),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://axis.test", timeout=60
        ) as http,
    ):
        yield ApiClient(http, admin, local_env.client), app


class ApiClient:
    """An HTTP client with the steering office's token, and a way to make more tokens."""

    def __init__(self, http: httpx.AsyncClient, admin_token: str, temporal: Client) -> None:
        self.http = http
        self.admin_token = admin_token
        self.temporal = temporal

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    async def request(
        self, method: str, path: str, token: str | None = None, **kwargs: object
    ) -> httpx.Response:
        headers = {**self.auth(token), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return await self.http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    async def token(self, role: str, commune_code: str | None = None) -> str:
        body: dict[str, object] = {"role": role, "name": f"{role} {commune_code or ''}".strip()}
        if commune_code is not None:
            body["commune_code"] = commune_code
        if role == "official_in_charge":
            # An official's token stands for a roster person: the demo roster's official in
            # charge of 24121, 24133 and 24175, the communes the tests use.
            body["email"] = "can-bo-04@example.invalid"
        answer = await self.request("POST", "/api/v1/tokens", json=body)
        assert answer.status_code == 201, answer.text
        token: str = answer.json()["token"]
        return token


# A skip in a run that requires its tools and servers hides a test that stopped testing (as the
# date-bound scenarios did once their dates passed): it fails instead. The only skips kept are
# those of a tool or server whose own AXIS_TEST_REQUIRE_ variable is not set (tests/skips.py).
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    fail_unexpected_skip(outcome.get_result(), os.environ)  # type: ignore[attr-defined]
