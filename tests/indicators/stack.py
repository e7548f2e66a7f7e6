"""What the indicator tests share: a clock the routes judge at, which a test moves; a database
of the module's own, emptied of indicators before each test (their counts are exact); and the
API with its worker on that database, judging at the clock's moment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from api.routes import indicators as indicator_routes
from db.engine import make_engine
from db.models import Indicator, IndicatorMilestone, IndicatorValue
from tests.conftest import ApiClient, api_app, fresh_database

# A Friday in the Vietnamese morning: every test's "today" unless it moves the clock.
APRIL_10 = datetime(2026, 4, 10, 3, 0, tzinfo=UTC)
INDICATOR_TABLES: tuple[Any, ...] = (IndicatorValue, IndicatorMilestone, Indicator)


class Clock:
    """The moment the routes judge at."""

    def __init__(self, now: datetime = APRIL_10) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def own_database(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[str]:
    """A fresh database on the session database's backend, dropped afterwards."""
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path_factory.mktemp(name)) as url:
        yield url


@contextmanager
def emptied(url: str, tables: Sequence[Any] = INDICATOR_TABLES) -> Iterator[Engine]:
    """An engine on `url` with `tables` emptied first (children before parents)."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for table in tables:
            session.execute(delete(table))
    try:
        yield engine
    finally:
        engine.dispose()


@asynccontextmanager
async def judged_at(
    clock: Callable[[], datetime],
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[ApiClient]:
    """The API and its worker on the database, the indicator routes judging at `clock()`."""
    async with api_app(local_env, database_url, engine, task_queue, executor) as (client, app):
        app.dependency_overrides[indicator_routes.clock] = clock
        yield client
