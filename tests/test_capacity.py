"""One setting, AXIS_ACTIVITY_CONCURRENCY, sizes a worker's activities, its threads and its
database connections together, so that a burst (102 assignments recording at once) waits on the
Temporal server instead of inside the worker, where its 30 s record timeouts would run out."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.delivery import delivery_config
from config import Settings, WorkerCapacity
from tests.conftest import PUBLIC_URL
from worker import activity_executor, build_delivery_worker, build_worker, worker_engine


def test_one_setting_sizes_the_threads_and_the_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.model_fields["activity_concurrency"].default == 16
    default = WorkerCapacity(16)
    assert (default.threads, default.database_connections) == (33, 33)
    monkeypatch.setenv("AXIS_ACTIVITY_CONCURRENCY", "40")
    capacity = Settings().worker_capacity
    assert capacity == WorkerCapacity(40)
    # Both task queues' activities at once, and the delivery sweep; a connection for each.
    assert (capacity.threads, capacity.database_connections) == (81, 81)


async def test_the_worker_is_built_with_them(
    time_env: WorkflowEnvironment, database_url: str
) -> None:
    settings = Settings(database_url=database_url, activity_concurrency=4)
    capacity = settings.worker_capacity
    assert (capacity.threads, capacity.database_connections) == (9, 9)
    engine = worker_engine(settings)
    delivery = delivery_config(settings, "capacity-delivery", engine)
    with activity_executor(capacity) as executor:
        assert executor._max_workers == 9
        main = build_worker(
            time_env.client,
            engine,
            "capacity",
            PUBLIC_URL,
            executor,
            delivery=delivery,
            capacity=capacity,
        )
        sender = build_delivery_worker(time_env.client, engine, executor, delivery, capacity)
        async with main, sender:
            running = [w.config().get("max_concurrent_activities") or 0 for w in (main, sender)]
    assert running == [4, 4]
    # No activity waits for a thread: 4 + 4 activities and the sweep on 9 threads.
    assert sum(running) + 1 == 9
    # Nor for a connection: every thread holds one at once, none waits.
    with ExitStack() as held:
        for _ in range(capacity.threads):
            held.enter_context(engine.connect())
        assert engine.pool.checkedout() == 9  # type: ignore[attr-defined]
    assert engine.pool._max_overflow + engine.pool.size() == 9  # type: ignore[attr-defined]
    engine.dispose()
