"""National scale: one directive to all 3,321 communes of the 34 provinces, on a dev server
whose pending-children and pending-activities limits are lowered far below 2,000 (in memory:
the SQLite-file server takes about a minute for this fan-out alone).

    .venv/bin/python -m pytest -m national"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from db.communes import communes_of_country
from db.engine import make_engine
from db.models import Assignment, Commune, Notification
from db.upsert import insert_ignoring_duplicates
from tests.conftest import TEMPORAL_CLI, fresh_database, running_worker
from tests.factories import store_directive
from tests.fan_out import until_fanned_out
from vocabulary.directives import (
    AssignmentStatus,
    DirectivePolicy,
    DirectiveStatus,
    directive_workflow_id,
)
from workflows.directive import CONTINUE_AS_NEW_AFTER_EVENTS, DirectiveWorkflow
from workflows.types import AssignmentClosed

pytestmark = pytest.mark.national

NATIONAL_COMMUNES = 3321
# Far below the server's 2,000: a design that held its communes as children or pending
# activities would be stuck here.
LOWERED_LIMIT = 50
CONTINUE_AS_NEW_HINT = 4096
DYNAMIC_CONFIG = [
    f"limit.numPendingChildExecutions.error={LOWERED_LIMIT}",
    f"limit.numPendingActivities.error={LOWERED_LIMIT}",
    f"limit.numPendingSignals.error={LOWERED_LIMIT}",
]


def all_communes() -> list[dict[str, str]]:
    return [c.__dict__ for c in communes_of_country()]


@pytest.fixture(scope="module")
def national_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("national")) as url:
        engine = make_engine(url)
        with Session(engine) as session, session.begin():
            session.execute(
                insert_ignoring_duplicates(
                    Commune.__table__,  # type: ignore[arg-type]
                    engine.dialect.name,
                    all_communes(),
                )
            )
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
async def limited_env() -> AsyncIterator[WorkflowEnvironment]:
    extra: list[str] = []
    for value in DYNAMIC_CONFIG:
        extra += ["--dynamic-config-value", value]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=extra,
    )
    yield env
    await env.shutdown()


def count(engine: Engine, model: type[Assignment] | type[Notification], directive_id: int) -> int:
    with Session(engine) as session:
        found = session.scalar(
            select(func.count()).select_from(model).where(model.directive_id == directive_id)
        )
        return found or 0


async def test_a_directive_reaches_all_3321_communes_under_lowered_limits(
    limited_env: WorkflowEnvironment,
    national_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    figure: Callable[[str], None],
    tmp_path: Path,
) -> None:
    client = limited_env.client
    codes = sorted(c["code"] for c in all_communes())
    assert len(codes) == NATIONAL_COMMUNES
    t0 = await limited_env.get_current_time()
    request = store_directive(
        national_engine, codes, t0, DirectivePolicy(), deadline=t0 + timedelta(days=30)
    )
    async with (
        asyncio.timeout(600),
        running_worker(client, national_engine, task_queue, executor),
    ):
        started = time.monotonic()
        handle = await client.start_workflow(
            DirectiveWorkflow.run,
            request,
            id=directive_workflow_id(request.directive_id),
            task_queue=task_queue,
        )
        await until_fanned_out(handle, seconds=240)
        fan_out_seconds = time.monotonic() - started
        assigned = count(national_engine, Assignment, request.directive_id)
        issued = count(national_engine, Notification, request.directive_id)
        assert (assigned, issued) == (NATIONAL_COMMUNES, NATIONAL_COMMUNES)

        # Every commune's assignment tells the directive it has closed: 3,321 signals, sent
        # here as each assignment sends it (closing 3,321 assignments one by one is the same
        # message at a far higher cost; tests/workflows covers that path).
        gate = asyncio.Semaphore(64)

        async def closed(code: str) -> None:
            async with gate:
                await handle.signal(
                    DirectiveWorkflow.assignment_closed,
                    AssignmentClosed(commune_code=code, status=AssignmentStatus.COMPLETED),
                )

        started_closing = time.monotonic()
        await asyncio.gather(*(closed(code) for code in codes))
        result = await asyncio.wait_for(handle.result(), 300)
        closing_seconds = time.monotonic() - started_closing
    assert result.status == DirectiveStatus.CLOSED

    runs = [w async for w in client.list_workflows(f'WorkflowId = "{handle.id}"')]
    lengths, signals, children = [], 0, 0
    for run in sorted(runs, key=lambda r: r.start_time):
        history = await client.get_workflow_handle(handle.id, run_id=run.run_id).fetch_history()
        lengths.append(len(history.events))
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                signals += 1
            elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                children += 1
    assignment_runs = await client.count_workflows('WorkflowType = "Assignment"')
    figure(
        f"{assigned} assignments and {issued} issue notices recorded, "
        f"fan-out {fan_out_seconds:.1f} s; "
        f"{assignment_runs.count} assignment workflows; closing signals {closing_seconds:.1f} s; "
        f"directive runs {len(runs)} with {lengths} events (hint {CONTINUE_AS_NEW_HINT}); "
        f"{signals} closing signals, {children} children; limits lowered to {LOWERED_LIMIT}"
    )
    assert max(lengths) <= CONTINUE_AS_NEW_HINT
    # A run that grew past the directive's own bound continued as new; only the last may not.
    # (A burst of closing signals can arrive in one workflow task and close the directive
    # before it would continue.)
    assert all(n >= CONTINUE_AS_NEW_AFTER_EVENTS for n in lengths[:-1])
    assert signals == NATIONAL_COMMUNES
    assert children == 0
    assert assignment_runs.count == NATIONAL_COMMUNES
