"""Dossiers on the time-skipping server with the product's own activities on a real database:
due times across Tết, the early / on-time / late end states, the apology letter with its new
appointment, the escalation ladder, and the supplement pause. Dates are derived from the
server's clock and the working-day calendar (tests/scenario_dates.py): the next Tết, the next
ordinary weeks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from db.models import Dossier, DossierEventRow
from tests.conftest import running_worker
from tests.procedure_factories import case_counts, case_messages, store_dossier
from tests.scenario_dates import DAY, at, close, next_tet, ordinary_monday_after, server_now
from tests.workflows.helpers import advance_to
from vocabulary.calendar import nth_working_day_after
from vocabulary.cases import Level, dossier_workflow_id
from workflows.dossier import DossierWorkflow
from workflows.procedure_types import DossierInput, DossierState, DossierStepInput

# Tách hộ: 5 working days (DVC).
FIVE_WORKING_DAYS = "1.010038"
OFFICER = "commune_leader:một cửa"


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
    # Received on the fourth working day before the next Tết (in 2027 Fri 29 Jan): three
    # working days before it (Mon 1, Tue 2, Wed 3 Feb), two after (Thu 11, Fri 12 Feb).
    tet = next_tet(await server_now(env))
    received = at(tet.received, 10)
    await advance_to(env, received)
    requests = [store_dossier(engine, FIVE_WORKING_DAYS, "24133", received) for _ in range(3)]
    early, on_time, late = requests
    assert tet.received < tet.last_before < tet.first_off <= tet.last_off < tet.due
    assert {r.due_at for r in requests} == {close(tet.due)}
    # The new appointment for the late one: two working days after the due date.
    appointment = nth_working_day_after(tet.due, 2)
    async with running_worker(env.client, engine, task_queue, executor):
        handles = [await open_dossier(env, r, task_queue) for r in requests]
        first, second, third = handles

        await advance_to(env, at(tet.last_before, 9))
        await first.execute_update(DossierWorkflow.start_processing, step())
        await first.execute_update(DossierWorkflow.transfer, step(to_level=Level.PROVINCE))
        await first.execute_update(DossierWorkflow.transfer, step(to_level=Level.COMMUNE))
        done = await first.execute_update(DossierWorkflow.result_ready, step())
        assert (done.status.value, done.timeliness.value) == ("result_ready", "early")

        await advance_to(env, at(tet.due, 11))
        done = await second.execute_update(DossierWorkflow.result_ready, step())
        assert (done.status.value, done.timeliness.value) == ("result_ready", "on_time")

        # Past both steps of the ladder (one and three days after the due time).
        await advance_to(env, at(tet.due + 4 * DAY, 10))
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
    # Nothing for the early one; one reminder (a day before the due time) for the one ready on
    # the due day before the apology time (13:00); for the late one the reminder, the apology to
    # the applicant at 13:00 on the due day, and both steps of the ladder.
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
    assert f"hẹn lại ngày trả kết quả: 17:00 ngày {appointment:%d/%m/%Y}" in apology.body
    assert f"17:00 ngày {tet.due:%d/%m/%Y}" in apology.body
    stored = row(engine, late.dossier_id)
    assert stored.appointment_at == close(appointment)
    assert stored.original_due_at == stored.due_at == close(tet.due)
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
    # A Monday that starts ten ordinary days (no holiday, no swapped Saturday).
    monday = ordinary_monday_after(await server_now(env), 10)
    received = at(monday, 9)
    await advance_to(env, received)
    request = store_dossier(engine, FIVE_WORKING_DAYS, "24121", received)
    # Five working days: the next Monday.
    assert request.due_at == close(monday + 7 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        handle = await open_dossier(env, request, task_queue)
        await advance_to(env, at(monday + 2 * DAY, 10))  # Wednesday
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(DossierWorkflow.request_supplement, step())
        assert refused.value.cause.message == "a supplement request says what is missing"  # type: ignore[attr-defined]
        paused = await handle.execute_update(
            DossierWorkflow.request_supplement, step(reason="thiếu bản sao sổ hộ khẩu")
        )
        assert paused.status.value == "supplement_requested"
        # The clock stands still: no reminder on Sunday, nothing overdue on the Monday after.
        await advance_to(env, at(monday + 4 * DAY, 10))  # Friday
        assert case_counts(engine, dossier_workflow_id(request.dossier_id)) == {}
        resumed = await handle.execute_update(DossierWorkflow.supplement_received, step())
        # Thursday and Friday were paused: two working days later, the Wednesday after.
        assert resumed.due_at == close(monday + 9 * DAY)
        # Two days of pause (the test clock lands within a second of its target).
        assert round(resumed.paused_seconds / 3600) == 48
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await handle.execute_update(DossierWorkflow.supplement_received, step())
        assert twice.value.cause.message == (  # type: ignore[attr-defined]
            "no supplement was requested of this dossier: the dossier is processing"
        )
        # Ready on that Wednesday at 12:00 (before the apology time, 13:00): late against the
        # first due date, on time against the one the pause moved.
        await advance_to(env, at(monday + 9 * DAY, 12))
        done = await handle.execute_update(DossierWorkflow.result_ready, step())
        assert done.timeliness.value == "on_time"
        await handle.execute_update(DossierWorkflow.returned, step())
        result = await handle.result()
    assert (result.status.value, result.timeliness.value) == ("returned", "on_time")
    assert case_counts(engine, dossier_workflow_id(request.dossier_id)) == {
        # Tuesday 17:00, one day before the moved due time.
        "dossier_reminder:reminder-86400s-d2:commune_leader": 1,
    }
    stored = row(engine, request.dossier_id)
    assert (stored.original_due_at, stored.due_at) == (
        close(monday + 7 * DAY),
        close(monday + 9 * DAY),
    )


async def test_a_refusal_needs_a_reason_and_closes_the_dossier(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    received = at(ordinary_monday_after(await server_now(env), 10), 9)
    await advance_to(env, received)
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
