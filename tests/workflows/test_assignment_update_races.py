"""Steps that arrive together on an assignment, on the time-skipping server with the product's
activities on a real database. The write of a first decision (a return, an extension decided)
is held open (a gate the test opens) so that the leader's next step and a second decision
arrive while it is in flight, as they do when the database answers slowly: each decision still
sends its own notice."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

import worker
from activities.records import RecordActivities
from db.models import Notification
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, assignments, issue
from vocabulary.directives import DirectivePolicy, assignment_workflow_id
from vocabulary.events import AssignmentEventKind
from workflows import activity_names
from workflows.assignment import AssignmentWorkflow
from workflows.types import (
    ExtensionDecisionInput,
    ExtensionRequestInput,
    RecordAssignmentInput,
    ReportInput,
    ReviewInput,
)

COMMUNE = "24133"
POLICY = DirectivePolicy(reminder_offsets_seconds=[86400], escalation=[])
LEADER, OFFICE = "commune_leader:test", "steering_office:test"


class Gate:
    """Holds the first write of an event of `kinds` until the test opens it (activities run in
    threads)."""

    def __init__(self, *kinds: AssignmentEventKind) -> None:
        self.kinds = kinds
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.held = False


def gated_records(gate: Gate) -> type[RecordActivities]:
    class GatedRecords(RecordActivities):
        @activity.defn(name=activity_names.RECORD_ASSIGNMENT)
        def record_assignment(self, request: RecordAssignmentInput) -> None:
            if request.event.kind in gate.kinds and not gate.held:
                gate.held = True
                gate.entered.set()
                gate.opened.wait(timeout=60)
            super().record_assignment(request)

    return GatedRecords


def notices(engine: Engine, directive_id: int, kind: str) -> dict[str, str]:
    """{step: body} of the notices of `kind` recorded for the directive."""
    with Session(engine) as session:
        return {
            n.step: n.body
            for n in session.scalars(
                select(Notification).where(
                    Notification.directive_id == directive_id, Notification.kind == kind
                )
            )
        }


async def test_a_report_and_a_second_return_while_the_first_is_written_keep_both_notices(
    time_env: WorkflowEnvironment,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = time_env
    gate = Gate(AssignmentEventKind.RETURNED)
    monkeypatch.setattr(worker, "RecordActivities", gated_records(gate))
    t0 = await env.get_current_time()
    request = store_directive(engine, [COMMUNE], t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        await issue(env, request, task_queue)
        handle = env.client.get_workflow_handle(
            assignment_workflow_id(request.directive_id, COMMUNE)
        )
        await handle.execute_update(AssignmentWorkflow.report, ReportInput(LEADER, "Lần 1"))
        first = await handle.start_update(
            AssignmentWorkflow.review,
            ReviewInput(OFFICE, accept=False, comment="Thiếu danh sách hộ."),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        assert await asyncio.to_thread(gate.entered.wait, 30)
        await handle.execute_update(AssignmentWorkflow.report, ReportInput(LEADER, "Lần 2"))
        second = await handle.execute_update(
            AssignmentWorkflow.review,
            ReviewInput(OFFICE, accept=False, comment="Thiếu chữ ký."),
        )
        gate.opened.set()
        returned_first = await first.result()
        state = await handle.query(AssignmentWorkflow.state)
        rows = assignments(engine, request.directive_id)

    # Report 1, return 1 (held), report 2, return 2: sequence numbers 1 to 4.
    assert (returned_first.seq, second.seq, state.seq) == (2, 4, 4)
    sent = notices(engine, request.directive_id, "returned")
    assert sorted(sent) == ["returned-2", "returned-4"]
    assert "Thiếu danh sách hộ." in sent["returned-2"]
    assert "Thiếu chữ ký." in sent["returned-4"]
    # The held write of the first return came last and changed nothing: its number is older.
    assert (rows[COMMUNE].status, rows[COMMUNE].seq) == ("returned", 4)


async def test_a_new_request_and_a_second_decision_while_the_first_is_written_keep_both_notices(
    time_env: WorkflowEnvironment,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = time_env
    gate = Gate(AssignmentEventKind.EXTENSION_GRANTED, AssignmentEventKind.EXTENSION_REFUSED)
    monkeypatch.setattr(worker, "RecordActivities", gated_records(gate))
    t0 = await env.get_current_time()
    request = store_directive(engine, [COMMUNE], t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        await issue(env, request, task_queue)
        handle = env.client.get_workflow_handle(
            assignment_workflow_id(request.directive_id, COMMUNE)
        )
        await handle.execute_update(
            AssignmentWorkflow.request_extension, ExtensionRequestInput(LEADER, t0 + 12 * DAY)
        )
        first = await handle.start_update(
            AssignmentWorkflow.decide_extension,
            ExtensionDecisionInput(OFFICE, grant=True),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        assert await asyncio.to_thread(gate.entered.wait, 30)
        await handle.execute_update(
            AssignmentWorkflow.request_extension, ExtensionRequestInput(LEADER, t0 + 20 * DAY)
        )
        second = await handle.execute_update(
            AssignmentWorkflow.decide_extension,
            ExtensionDecisionInput(OFFICE, grant=False, comment="Không đủ căn cứ."),
        )
        gate.opened.set()
        granted = await first.result()

    # Request 1, grant (held), request 2, refusal: sequence numbers 1 to 4.
    assert (granted.seq, granted.deadline, second.seq, second.deadline) == (
        2,
        t0 + 12 * DAY,
        4,
        t0 + 12 * DAY,
    )
    sent = notices(engine, request.directive_id, "extension_decided")
    assert sorted(sent) == ["extension-2", "extension-4"]
    assert "Không đủ căn cứ." in sent["extension-4"]
