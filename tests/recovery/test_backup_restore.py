"""Recovery from a lost read model: a directive to 102 communes; a backup; then 40 communes
acknowledge, 10 report and the escalation ladder's first step fires for the 92 that did not
report; the backup is restored (everything since is gone from the read model); the API, started
again, finds the read model behind and catches up from the workflows' journals. Afterwards the
assignments, their events, their messages and the change feed are exactly what they were
before the restore, and a second catch-up writes nothing."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from config import Settings
from db import backup
from db.backup import CAUGHT_UP, pending_restore
from db.engine import make_engine
from db.models import Assignment, AssignmentEventRow, AuditEntry, Change, Commune, Notification
from services.catchup import catch_up
from tests.api.test_directives_api import DIRECTIVES, act, eventually, iso7, opened
from tests.conftest import PUBLIC_URL, TEMPORAL_CLI, api_app, running_worker

# The assignments, events and messages of 102 communes; each part's own bookkeeping columns
# (row ids, when a row was written) differ between a first write and a catch-up by design.
UNCOMPARED = {"id", "updated_at", "created_at", "at"}
# Long enough for the fan-out and the backup to come first on two busy cores.
DEADLINE_AFTER = timedelta(seconds=30)
ACKNOWLEDGING = 40
REPORTING = 10


@pytest.fixture(scope="module")
async def dev_server(scratch_database_url: str) -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal server of this module's own: its workflow ids follow the scratch database's
    directive ids, which start again at 1."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), ui=False, dev_server_log_level="error"
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
def scratch_engine(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


def rows(engine: Engine, table: Table, directive_id: int, *order: str) -> list[dict[str, Any]]:
    """A table's rows of one directive, every compared column, in a stable order."""
    columns = [c for c in table.columns if c.name not in UNCOMPARED]
    with Session(engine) as session:
        found = session.execute(
            select(*columns)
            .where(table.c.directive_id == directive_id)
            .order_by(*(table.c[name] for name in order))
        )
        return [dict(row._mapping) for row in found]


def read_model(engine: Engine, directive_id: int) -> dict[str, Any]:
    feed = rows(engine, Change.__table__, directive_id, "commune_code", "id")  # type: ignore[arg-type]
    return {
        "assignments": rows(engine, Assignment.__table__, directive_id, "commune_code"),  # type: ignore[arg-type]
        "events": rows(engine, AssignmentEventRow.__table__, directive_id, "commune_code", "seq"),  # type: ignore[arg-type]
        "notifications": rows(engine, Notification.__table__, directive_id, "idempotency_key"),  # type: ignore[arg-type]
        # The feed in each commune's order: the catch-up appends the same states, once each.
        "changes": [json.dumps(row, sort_keys=True, default=str) for row in feed],
    }


def event_kinds(engine: Engine, directive_id: int) -> Counter[str]:
    with Session(engine) as session:
        return Counter(
            dict(
                session.execute(
                    select(AssignmentEventRow.kind, func.count())
                    .where(AssignmentEventRow.directive_id == directive_id)
                    .group_by(AssignmentEventRow.kind)
                ).all()
            )
        )


async def test_a_restored_read_model_catches_up_with_102_assignments_exactly(
    dev_server: WorkflowEnvironment,
    scratch_database_url: str,
    scratch_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
    figure: Callable[[str], None],
) -> None:
    engine = scratch_engine
    settings = Settings(
        database_url=scratch_database_url, data_dir=tmp_path, temporal_address="unused:7233"
    )
    with Session(engine) as session:
        codes = sorted(session.scalars(select(Commune.code)))
    assert len(codes) == 102
    deadline = (datetime.now(UTC) + DEADLINE_AFTER).replace(microsecond=0)

    async with api_app(dev_server, scratch_database_url, engine, task_queue, executor) as (api, _):
        answer = await api.request(
            "POST",
            DIRECTIVES,
            json={
                "title": "Rà soát hộ nghèo",
                "body": "Mỗi xã, phường báo cáo.",
                "communes": codes,
                "deadline": iso7(deadline),
                "escalation": [{"after": "PT1S", "to": "official_in_charge"}],
            },
        )
        assert answer.status_code == 201, answer.text
        directive_id = answer.json()["id"]
        await opened(api, directive_id)
        taken = backup.create(settings)
        assert taken.taken_at < deadline, "the backup must come before the escalations"
        at_backup = read_model(engine, directive_id)
        assert len(at_backup["assignments"]) == 102
        assert event_kinds(engine, directive_id) == Counter()

        acknowledging, reporting = codes[:ACKNOWLEDGING], codes[-REPORTING:]
        tokens = {
            code: await api.token("commune_leader", code) for code in acknowledging + reporting
        }
        answers = await asyncio.gather(
            *(act(api, tokens[c], directive_id, c, "acknowledge") for c in acknowledging),
            *(
                act(api, tokens[c], directive_id, c, "report", {"summary": "Đã rà soát xong."})
                for c in reporting
            ),
        )
        assert [a.status_code for a in answers] == [200] * (ACKNOWLEDGING + REPORTING)

        silent = 102 - REPORTING
        expected_kinds = Counter({"acknowledged": ACKNOWLEDGING, "reported": REPORTING}) + Counter(
            {"overdue": silent, "escalated": silent}
        )

        async def ladder_fired() -> None:
            assert event_kinds(engine, directive_id) == expected_kinds
            with Session(engine) as session:
                escalations = session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(
                        Notification.directive_id == directive_id,
                        Notification.kind == "escalation",
                    )
                )
            assert escalations is not None and escalations >= silent

        await eventually(ladder_fired, 120)
        before = read_model(engine, directive_id)

    # Everything since the backup is lost: the product stopped, the backup put back.
    backup.restore(settings, backup.load(taken.folder))
    assert read_model(engine, directive_id) == at_backup
    assert pending_restore(engine) == taken.taken_at

    # The API, started again, finds the read model behind and catches up on its own.
    async with api_app(dev_server, scratch_database_url, engine, task_queue, executor):

        async def caught_up() -> None:
            assert pending_restore(engine) is None

        await eventually(caught_up, 120)
    with Session(engine) as session:
        done = session.scalars(
            select(AuditEntry).where(AuditEntry.action == CAUGHT_UP).order_by(AuditEntry.id)
        ).all()
    assert len(done) == 1
    repairs, seconds = done[0].detail["repairs"], done[0].detail["seconds"]
    after = read_model(engine, directive_id)
    assert after == before

    # What was repaired, exactly: 40 acknowledged + 92 overdue + 92 escalated + 10 reported
    # states and events, and every message recorded since the backup.
    lost_messages = len(before["notifications"]) - len(at_backup["notifications"])
    assert lost_messages >= silent
    assert repairs == {
        "assignment_state": 234,
        "assignment_event": 234,
        "notification": lost_messages,
    }
    figure(
        f"{engine.dialect.name}: {sum(repairs.values())} rows repaired for 102 assignments "
        f"({repairs}) in {seconds:.2f} s"
    )

    # A second catch-up (`make reconcile`) finds nothing to write: nothing is doubled.
    async with running_worker(dev_server.client, engine, task_queue, executor):
        again = await catch_up(dev_server.client, engine, PUBLIC_URL)
    # The directive and its 102 assignments, all still open.
    assert (again.asked, again.total, again.missing, again.unanswered) == (103, 0, [], [])
    assert read_model(engine, directive_id) == before
