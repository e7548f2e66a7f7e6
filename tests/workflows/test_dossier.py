"""Dossiers on the time-skipping server with the product's own activities on a real database:
due times across Tết, the early / on-time / late end states, the apology letter with its new
appointment, the escalation ladder, and the supplement pause. Dates are hand-computed (see
tests/activities/test_procedure_calendar.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.calendar import VIETNAM
from db.models import Dossier, DossierEventRow
from tests.conftest import running_worker
from tests.procedure_factories import case_counts, case_messages, store_dossier
from tests.workflows.helpers import advance_to
from workflows.dossier import DossierWorkflow
from workflows.procedure_types import (
    DossierInput,
    DossierState,
    DossierStepInput,
    Level,
    dossier_workflow_id,
)

# Tách hộ: 5 working days (DVC).
FIVE_WORKING_DAYS = "1.010038"
OFFICER = "commune_leader:một cửa"


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM)


def close(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 17, 0, tzinfo=VIETNAM)


async def begin(env: WorkflowEnvironment, start: datetime) -> None:
    now = await env.get_current_time()
    if now >= start:
        pytest.skip("the scenario's hand-computed dates have passed: move them to the next Tết")
    await advance_to(env, start)


async def open_dossier(
    env: WorkflowEnvironment, request: DossierInput, task_queue: str
) -> WorkflowHandle[DossierWorkflow, DossierState]:
    return await env.client.start_workflow(
        DossierWorkflow.run,
        request,
        id=dossier_workflow_id(request.dossier_id),
        task_queue=task_queue,
    )


def step(actor: str = OFFICER, reason: str = "", to_level: Level | None = None) -> DossierStepInput:
    return DossierStepInput(actor=actor, reason=reason, to_level=to_level)


def row(engine: Engine, dossier_id: int) -> Dossier:
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(Dossier, dossier_id)
        assert found is not None
        return found


async def test_dossiers_received_the_friday_before_tet_end_early_on_time_and_late(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    received = at(2027, 1, 29, 10)
    await begin(env, received)
    requests = [store_dossier(engine, FIVE_WORKING_DAYS, "24133", received) for _ in range(3)]
    early, on_time, late = requests
    # Five working days from Fri 29 Jan 2027: Mon 1, Tue 2, Wed 3 Feb, Tết, Thu 11, Fri 12 Feb.
    assert {r.due_at for r in requests} == {close(2027, 2, 12)}
    async with running_worker(env.client, engine, task_queue, executor):
        handles = [await open_dossier(env, r, task_queue) for r in requests]
        first, second, third = handles

        await advance_to(env, at(2027, 2, 3, 9))
        await first.execute_update(DossierWorkflow.start_processing, step())
        await first.execute_update(DossierWorkflow.transfer, step(to_level=Level.PROVINCE))
        await first.execute_update(DossierWorkflow.transfer, step(to_level=Level.COMMUNE))
        done = await first.execute_update(DossierWorkflow.result_ready, step())
        assert (done.status.value, done.timeliness.value) == ("result_ready", "early")

        await advance_to(env, at(2027, 2, 12, 11))
        done = await second.execute_update(DossierWorkflow.result_ready, step())
        assert (done.status.value, done.timeliness.value) == ("result_ready", "on_time")

        await advance_to(env, at(2027, 2, 16, 10))
        assert row(engine, late.dossier_id).timeliness == "overdue"
        done = await third.execute_update(DossierWorkflow.result_ready, step())
        assert (done.status.value, done.timeliness.value) == ("result_ready", "late")
        for handle in handles:
            await handle.execute_update(DossierWorkflow.returned, step())
        results = [await handle.result() for handle in handles]

    assert [(r.status.value, r.timeliness.value) for r in results] == [
        ("returned", "early"),
        ("returned", "on_time"),
        ("returned", "late"),
    ]
    # Nothing for the early one; one reminder (Thu 11 Feb 17:00) for the one ready on the due
    # day before the apology time (13:00); for the late one the reminder, the apology to the
    # applicant at 13:00 on Fri 12 Feb, and both steps of the ladder (Sat 13 and Mon 15 Feb).
    assert case_counts(engine, dossier_workflow_id(early.dossier_id)) == {}
    assert case_counts(engine, dossier_workflow_id(on_time.dossier_id)) == {
        "dossier_reminder:reminder-86400s-d1:commune_leader": 1
    }
    assert case_counts(engine, dossier_workflow_id(late.dossier_id)) == {
        "dossier_reminder:reminder-86400s-d1:commune_leader": 1,
        "dossier_apology:apology:applicant": 1,
        "dossier_escalation:level-1:official_in_charge": 1,
        "dossier_escalation:level-2:steering_office": 1,
    }
    apology = next(
        n
        for n in case_messages(engine, dossier_workflow_id(late.dossier_id))
        if n.kind == "dossier_apology"
    )
    assert apology.recipient == "nguoi.nop@example.invalid"
    assert apology.subject.startswith("Phiếu xin lỗi và hẹn lại ngày trả kết quả")
    # The new appointment: two working days after the due date, Tue 16 Feb 2027.
    assert "hẹn lại ngày trả kết quả: 17:00 ngày 16/02/2027" in apology.body
    assert "17:00 ngày 12/02/2027" in apology.body
    stored = row(engine, late.dossier_id)
    assert stored.appointment_at == close(2027, 2, 16)
    assert stored.original_due_at == stored.due_at == close(2027, 2, 12)
    assert stored.escalation_level == 2
    with Session(engine) as session:
        kinds = list(
            session.scalars(
                select(DossierEventRow.kind)
                .where(DossierEventRow.dossier_id == early.dossier_id)
                .order_by(DossierEventRow.seq)
            )
        )
    assert kinds == [
        "received",
        "processing",
        "transferred",
        "transferred",
        "result_ready",
        "returned",
    ]


async def test_a_supplement_pauses_the_clock_and_the_due_date_moves_by_the_pause(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    received = at(2027, 1, 11, 9)
    await begin(env, received)
    request = store_dossier(engine, FIVE_WORKING_DAYS, "24121", received)
    # Mon 11 Jan 2027 + 5 working days: Mon 18 Jan.
    assert request.due_at == close(2027, 1, 18)
    async with running_worker(env.client, engine, task_queue, executor):
        handle = await open_dossier(env, request, task_queue)
        await advance_to(env, at(2027, 1, 13, 10))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(DossierWorkflow.request_supplement, step())
        assert refused.value.cause.message == "a supplement request says what is missing"  # type: ignore[attr-defined]
        paused = await handle.execute_update(
            DossierWorkflow.request_supplement, step(reason="thiếu bản sao sổ hộ khẩu")
        )
        assert paused.status.value == "supplement_requested"
        # The clock stands still: no reminder on Sun 17 Jan, nothing overdue on Mon 18.
        await advance_to(env, at(2027, 1, 15, 10))
        assert case_counts(engine, dossier_workflow_id(request.dossier_id)) == {}
        resumed = await handle.execute_update(DossierWorkflow.supplement_received, step())
        # Thu 14 and Fri 15 Jan were paused: two working days later, Wed 20 Jan.
        assert resumed.due_at == close(2027, 1, 20)
        # Two days of pause (the test clock lands within a second of its target).
        assert round(resumed.paused_seconds / 3600) == 48
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await handle.execute_update(DossierWorkflow.supplement_received, step())
        assert twice.value.cause.message == (  # type: ignore[attr-defined]
            "no supplement was requested of this dossier: the dossier is processing"
        )
        # Ready on Wed 20 Jan at 12:00 (before the apology time, 13:00): late against the first
        # due date, on time against
        # the one the pause moved.
        await advance_to(env, at(2027, 1, 20, 12))
        done = await handle.execute_update(DossierWorkflow.result_ready, step())
        assert done.timeliness.value == "on_time"
        await handle.execute_update(DossierWorkflow.returned, step())
        result = await handle.result()
    assert (result.status.value, result.timeliness.value) == ("returned", "on_time")
    assert case_counts(engine, dossier_workflow_id(request.dossier_id)) == {
        # Tue 19 Jan 17:00, one day before the moved due time.
        "dossier_reminder:reminder-86400s-d2:commune_leader": 1,
    }
    stored = row(engine, request.dossier_id)
    assert (stored.original_due_at, stored.due_at) == (close(2027, 1, 18), close(2027, 1, 20))


async def test_a_refusal_needs_a_reason_and_closes_the_dossier(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    received = at(2027, 1, 11, 9)
    await begin(env, received)
    request = store_dossier(engine, FIVE_WORKING_DAYS, "24163", received)
    async with running_worker(env.client, engine, task_queue, executor):
        handle = await open_dossier(env, request, task_queue)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(DossierWorkflow.returned, step())
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(DossierWorkflow.refuse, step())
        refused = await handle.execute_update(
            DossierWorkflow.refuse, step(reason="không đủ điều kiện tách hộ")
        )
        result = await handle.result()
    assert (refused.status.value, result.status.value) == ("refused", "refused")
    assert result.refusal_reason == "không đủ điều kiện tách hộ"
    assert result.timeliness.value == "early"
    assert row(engine, request.dossier_id).status == "refused"
