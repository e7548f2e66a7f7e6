"""A recurring directive and its weekly schedule exist both or neither: an engine that does not
answer while the schedule is made leaves the directive pending (503), never active without a
schedule; the request repeated with its Idempotency-Key, or the reconciler at the API's start,
finishes it; a schedule gone missing is made again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from config import Settings
from db.engine import make_async_engine
from db.models import RecurringDirective, utcnow
from services.recurring import make_missing_schedules
from serving.deps import get_temporal
from tests.api.test_directives_api import eventually
from tests.conftest import ApiClient, api_app
from tests.scoring.test_recurring import CODES
from vocabulary.obligations import recurring_schedule_id

PATH = "/api/v1/recurring-directives"


class EngineAway:
    """A client whose engine stops answering when a schedule is made: what a Temporal outage
    between storing the row and making its schedule looks like to the API."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.schedules_asked = 0

    async def create_schedule(self, *args: Any, **kwargs: Any) -> None:
        self.schedules_asked += 1
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@asynccontextmanager
async def session_of(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_async_engine(database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            yield session
    finally:
        await engine.dispose()


def statuses(engine: Engine, title: str) -> dict[int, str]:
    with Session(engine) as session:
        rows = session.execute(
            select(RecurringDirective.id, RecurringDirective.status)
            .where(RecurringDirective.title == title)
            .order_by(RecurringDirective.id)
        )
        return {recurring_id: status for recurring_id, status in rows}


async def has_schedule(client: Client, recurring_id: int) -> bool:
    try:
        await client.get_schedule_handle(recurring_schedule_id(recurring_id)).describe()
    except RPCError as e:
        assert e.status == RPCStatusCode.NOT_FOUND
        return False
    return True


async def test_an_engine_away_leaves_the_directive_pending_until_a_repeat_or_the_reconciler(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    title = f"Hai hoạt động chuyển đổi số mỗi tuần ({task_queue})"
    body = {"title": title, "body": "Báo cáo hằng tuần.", "required_activities": 2}
    key = {"Idempotency-Key": f"{task_queue}-weekly"}
    temporal = local_env.client
    async with api_app(local_env, database_url, engine, task_queue, executor) as (api, app):
        away = EngineAway(temporal)
        app.dependency_overrides[get_temporal] = lambda: away
        keyed = await api.request("POST", PATH, json=body, headers=key)
        unkeyed = await api.request("POST", PATH, json=body)
        assert (keyed.status_code, unkeyed.status_code, away.schedules_asked) == (503, 503, 2)
        assert "repeat the request with the same Idempotency-Key" in keyed.json()["detail"]
        stored = statuses(engine, title)
        assert list(stored.values()) == ["pending", "pending"]
        keyed_id, unkeyed_id = stored
        assert [await has_schedule(temporal, i) for i in stored] == [False, False]
        assert (await api.request("GET", f"{PATH}/{keyed_id}")).json()["status"] == "pending"
        paused = await api.request("POST", f"{PATH}/{keyed_id}/pause")
        assert paused.status_code == 409

        # The engine answers again: the same request with its key finishes the same directive.
        del app.dependency_overrides[get_temporal]
        repeated = await api.request("POST", PATH, json=body, headers=key)
        again = await api.request("POST", PATH, json=body, headers=key)
        assert (repeated.status_code, again.status_code) == (201, 201)
        assert repeated.headers["Idempotent-Replayed"] == again.headers["Idempotent-Replayed"]
        assert repeated.json() == again.json()
        assert (repeated.json()["id"], repeated.json()["status"]) == (keyed_id, "active")
        other = await api.request("POST", PATH, json={**body, "required_activities": 3},
                                  headers=key)  # fmt: skip
        assert other.status_code == 422
    assert statuses(engine, title) == {keyed_id: "active", unkeyed_id: "pending"}
    assert [await has_schedule(temporal, i) for i in (keyed_id, unkeyed_id)] == [True, False]

    # The one without a key is finished by the reconciler once it is past its request's hands.
    settings = Settings(database_url=database_url, task_queue=task_queue)
    async with session_of(database_url) as session:
        assert unkeyed_id not in await make_missing_schedules(session, temporal, settings)
    with Session(engine) as db, db.begin():
        db.execute(
            update(RecurringDirective)
            .where(RecurringDirective.id == unkeyed_id)
            .values(updated_at=utcnow() - timedelta(minutes=5))
        )
    async with session_of(database_url) as session:
        done = await make_missing_schedules(session, temporal, settings)
    assert {i: done.get(i) for i in (keyed_id, unkeyed_id)} == {
        keyed_id: None,
        unkeyed_id: "completed",
    }
    assert statuses(engine, title) == {keyed_id: "active", unkeyed_id: "active"}
    assert [await has_schedule(temporal, i) for i in (keyed_id, unkeyed_id)] == [True, True]
    for recurring_id in (keyed_id, unkeyed_id):
        await temporal.get_schedule_handle(recurring_schedule_id(recurring_id)).delete()


def store(engine: Engine, title: str, status: str) -> int:
    with Session(engine) as session, session.begin():
        recurring = RecurringDirective(
            title=title, body="Báo cáo hằng tuần.", required_count=2, communes=CODES,
            skip_holidays=True, status=status, created_by="steering_office:test",
        )  # fmt: skip
        session.add(recurring)
        session.flush()
        return recurring.id


@pytest.mark.parametrize("status", ["active", "paused"])
async def test_the_api_makes_a_missing_schedule_again_when_it_starts(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    status: str,
) -> None:
    # A directive stored active before its schedule existed (as created before both-or-neither).
    recurring_id = store(engine, f"Báo cáo tuần ({task_queue})", status)
    temporal = local_env.client
    assert not await has_schedule(temporal, recurring_id)
    async with api_app(local_env, database_url, engine, task_queue, executor):

        async def made() -> bool:
            assert await has_schedule(temporal, recurring_id)
            return True

        await eventually(made)
    handle = temporal.get_schedule_handle(recurring_schedule_id(recurring_id))
    described = await handle.describe()
    assert described.schedule.state.paused is (status == "paused")
    assert described.schedule.spec.time_zone_name == "Asia/Ho_Chi_Minh"
    # Made once: a second pass finds nothing to do for it.
    async with session_of(database_url) as session:
        done = await make_missing_schedules(session, temporal, Settings(task_queue=task_queue))
    assert recurring_id not in done
    await handle.delete()


async def test_the_same_key_twice_creates_one_directive_and_one_schedule(
    api: ApiClient, engine: Engine, task_queue: str
) -> None:
    title = f"Báo cáo tuần một lần ({task_queue})"
    body = {"title": title, "body": "Báo cáo hằng tuần.", "communes": ["24133", "24121"]}
    key = {"Idempotency-Key": f"{task_queue}-once"}
    first = await api.request("POST", PATH, json=body, headers=key)
    second = await api.request("POST", PATH, json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 201), first.text
    assert ("Idempotent-Replayed" in first.headers, second.headers["Idempotent-Replayed"]) == (
        False,
        "true",
    )
    assert first.json() == second.json()
    assert (first.json()["communes"], first.json()["status"]) == (2, "active")
    recurring_id = first.json()["id"]
    assert statuses(engine, title) == {recurring_id: "active"}
    assert await has_schedule(api.temporal, recurring_id)
    assert (await api.request("DELETE", f"{PATH}/{recurring_id}")).status_code == 204
