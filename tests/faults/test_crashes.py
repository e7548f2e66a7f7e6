"""Crashes and outages of the product's own processes, on a file-backed Temporal dev server and
`worker.py` processes killed with SIGKILL: nothing is lost, nothing is recorded twice, and every
timed step fires exactly once.

    .venv/bin/python -m pytest -m faults"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus

from bench.run import wait_for_pollers
from db.communes import communes_of_province
from db.engine import make_engine
from db.models import Directive, Notification
from tests.conftest import fresh_database
from tests.factories import store_directive
from tests.fan_out import until_fanned_out
from tests.faults.stack import TemporalServer, Workers
from vocabulary.directives import (
    DirectivePolicy,
    assignment_workflow_id,
    directive_workflow_id,
)
from workflows.directive import DIRECTIVE_TASK_TIMEOUT, DirectiveWorkflow
from workflows.types import IssueDirectiveInput

pytestmark = pytest.mark.faults

CODES = [c.code for c in communes_of_province()]
WAIT_SECONDS = 180


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def database(folder: Path) -> Iterator[tuple[str, Engine]]:
    with fresh_database("sqlite", folder) as url:
        engine = make_engine(url)
        yield url, engine
        engine.dispose()


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[TemporalServer]:
    server = TemporalServer(folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def stack(
    server: TemporalServer, database: tuple[str, Engine], folder: Path
) -> AsyncIterator[tuple[Client, Workers, Engine]]:
    url, engine = database
    workers = Workers(url, server.address, f"faults-{uuid.uuid4().hex[:8]}", folder)
    client = await Client.connect(server.address)
    try:
        yield client, workers, engine
    finally:
        workers.stop_all()


def notifications(engine: Engine, directive_id: int, kind: str) -> list[Notification]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Notification).where(
                    Notification.directive_id == directive_id, Notification.kind == kind
                )
            )
        )


async def until(check: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> float:
    """Wait for `check` to hold; returns when it did (monotonic)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {seconds} s")
        await asyncio.sleep(0.05)
    return time.monotonic()


async def start(client: Client, request: IssueDirectiveInput, queue: str) -> None:
    await client.start_workflow(
        DirectiveWorkflow.run,
        request,
        id=directive_workflow_id(request.directive_id),
        task_queue=queue,
        task_timeout=DIRECTIVE_TASK_TIMEOUT,
    )


async def assignment_statuses(client: Client, directive_id: int) -> Counter[str]:
    found: Counter[str] = Counter()
    for code in CODES:
        try:
            described = await client.get_workflow_handle(
                assignment_workflow_id(directive_id, code)
            ).describe()
            found[described.status.name if described.status else "?"] += 1
        except Exception:
            found["missing"] += 1
    return found


def directive_status(engine: Engine, directive_id: int) -> str:
    with Session(engine) as session:
        directive = session.get(Directive, directive_id)
        assert directive is not None
        return directive.status


def exactly_once(rows: list[Notification]) -> tuple[int, int]:
    """(communes reached, duplicates): every commune once, and nothing twice."""
    per_commune = Counter(n.commune_code for n in rows)
    keys = Counter(n.idempotency_key for n in rows)
    return len(per_commune), sum(c - 1 for c in keys.values()) + sum(
        c - 1 for c in per_commune.values()
    )


async def test_the_worker_killed_five_times_during_a_fan_out(
    stack: tuple[Client, Workers, Engine], figure: Callable[[str], None]
) -> None:
    client, workers, engine = stack
    now = datetime.now(UTC)
    request = store_directive(engine, CODES, now, DirectivePolicy(), deadline=now + timedelta(30))
    process = workers.start()
    await workers.started_polling()
    await start(client, request, workers.env["AXIS_TASK_QUEUE"])
    seen: list[str] = []
    for alive in (0.3, 0.6, 1.0, 1.5, 2.0):
        # Killed a little later each time after it polls, so the kills land on different steps.
        await asyncio.sleep(alive)
        status = directive_status(engine, request.directive_id)
        seen.append(f"{status}/{len(notifications(engine, request.directive_id, 'issued'))}")
        workers.kill(process)
        process = workers.start()
        await workers.started_polling()
    restarted = time.monotonic()
    handle = client.get_workflow_handle(directive_workflow_id(request.directive_id))

    def fanned_out() -> bool:
        return len(notifications(engine, request.directive_id, "issued")) >= len(CODES)

    done = await until(fanned_out, "102 issue notices after five kills")
    done = max(done, await until_fanned_out(handle, seconds=WAIT_SECONDS))
    statuses = await assignment_statuses(client, request.directive_id)
    reached, duplicates = exactly_once(notifications(engine, request.directive_id, "issued"))
    figure(
        f"5 kills (directive status/issue notices at each kill: {seen}); "
        f"assignments {dict(statuses)}; "
        f"{reached}/102 notified, {duplicates} duplicates; recovered "
        f"{done - restarted:.1f} s after the last restart"
    )
    assert statuses == {WorkflowExecutionStatus.RUNNING.name: 102}
    assert (reached, duplicates) == (102, 0)
    assert len(notifications(engine, request.directive_id, "issued")) == 102


async def test_the_temporal_server_restarted_mid_fan_out_loses_nothing(
    stack: tuple[Client, Workers, Engine],
    server: TemporalServer,
    figure: Callable[[str], None],
) -> None:
    client, workers, engine = stack
    workers.start()
    await wait_for_pollers(client, workers.env["AXIS_TASK_QUEUE"])
    now = datetime.now(UTC)
    # A reminder 45 s after issue: pending while the server is down, due after it is back.
    policy = DirectivePolicy(reminder_offsets_seconds=[15])
    request = store_directive(engine, CODES, now, policy, deadline=now + timedelta(seconds=60))
    await start(client, request, workers.env["AXIS_TASK_QUEUE"])
    # Stopped as soon as the plan is recorded: the assignments are being started.
    await until(lambda: directive_status(engine, request.directive_id) == "active", "the plan")
    at_stop = len(notifications(engine, request.directive_id, "issued"))
    server.stop()
    stopped = time.monotonic()
    await asyncio.sleep(3)
    server.start()
    down = time.monotonic() - stopped
    client = await Client.connect(server.address)

    def reminded() -> bool:
        return len(notifications(engine, request.directive_id, "reminder")) >= len(CODES)

    await until(
        lambda: len(notifications(engine, request.directive_id, "issued")) >= 102, "notices"
    )
    # The fan-out's activity resumes after the restart: wait for every start, then compare.
    for _ in range(WAIT_SECONDS):
        statuses = await assignment_statuses(client, request.directive_id)
        if statuses == {WorkflowExecutionStatus.RUNNING.name: 102}:
            break
        await asyncio.sleep(1)
    await until(reminded, "102 reminders", seconds=120)
    # Past the reminder, before the deadline: a second firing would have landed by now.
    await asyncio.sleep(3)
    issued = exactly_once(notifications(engine, request.directive_id, "issued"))
    reminders = exactly_once(notifications(engine, request.directive_id, "reminder"))
    figure(
        f"server down {down:.1f} s with {at_stop}/102 notices recorded; after: assignments "
        f"{dict(statuses)}, notices (reached, duplicates) {issued}, reminders {reminders}"
    )
    assert statuses == {WorkflowExecutionStatus.RUNNING.name: 102}
    assert issued == (102, 0)
    assert reminders == (102, 0)


async def test_a_reminder_due_while_every_worker_is_down_fires_once_when_one_returns(
    stack: tuple[Client, Workers, Engine], figure: Callable[[str], None]
) -> None:
    client, workers, engine = stack
    codes = CODES[:3]
    process = workers.start()
    await wait_for_pollers(client, workers.env["AXIS_TASK_QUEUE"])
    now = datetime.now(UTC)
    policy = DirectivePolicy(reminder_offsets_seconds=[20])
    request = store_directive(engine, codes, now, policy, deadline=now + timedelta(seconds=30))
    await start(client, request, workers.env["AXIS_TASK_QUEUE"])
    await until(
        lambda: len(notifications(engine, request.directive_id, "issued")) == 3, "3 notices"
    )
    workers.kill(process)
    due = now + timedelta(seconds=10)
    # Down across the due time, for a while after it.
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 5)
    before = len(notifications(engine, request.directive_id, "reminder"))
    returned = datetime.now(UTC)
    workers.start()
    await until(
        lambda: len(notifications(engine, request.directive_id, "reminder")) >= 3, "reminders"
    )
    await asyncio.sleep(2)
    rows = notifications(engine, request.directive_id, "reminder")
    late = min(n.created_at for n in rows) - due
    figure(
        f"workers down from before the due time to {(returned - due).total_seconds():.1f} s "
        f"after it; reminders while down {before}; after: {len(rows)} for 3 communes, "
        f"first {late.total_seconds():.1f} s after due"
    )
    assert before == 0
    assert exactly_once(rows) == (3, 0)
    assert min(n.created_at for n in rows) >= returned
