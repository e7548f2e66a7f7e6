"""Steps that arrive together on a dossier or a feedback, on the time-skipping server with the
product's activities on a real database. One activity is held open (a gate the test opens) so
that the second step arrives while the first is in flight, as it does when the calendar or the
database answers slowly: a second identical step is refused, a refusal stands, a notice goes to
the commune it was meant for, and no workflow task fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.procedures import ProcedureActivities
from activities.rendering import Renderer
from db.models import DossierEventRow
from tests.conftest import PUBLIC_URL, max_cached_workflows
from tests.procedure_factories import case_counts, case_messages, store_dossier, store_feedback
from tests.scenario_dates import DAY, at, close, ordinary_monday_after, server_now
from tests.workflows.helpers import advance_to
from vocabulary.cases import dossier_workflow_id, feedback_workflow_id
from vocabulary.events import FeedbackEventKind
from worker import WORKFLOW_RUNNER
from workflows import activity_names
from workflows.dossier import DossierWorkflow
from workflows.feedback import FeedbackWorkflow
from workflows.procedure_types import (
    DossierState,
    DossierStepInput,
    DueTime,
    FeedbackState,
    ForwardInput,
    RecordFeedbackInput,
    ResumeDueInput,
)

# Tách hộ: 5 working days (DVC).
FIVE_WORKING_DAYS = "1.010038"
OFFICER = "commune_leader:một cửa"
TAN_AN, TAN_LAP, EA_KAR = "24163", "24121", "24373"


class Gate:
    """Holds an activity until the test opens it; `entered` is set once one is waiting."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self.calls = 0

    async def hold(self) -> None:
        self.calls += 1
        self.entered.set()
        await self.opened.wait()


@asynccontextmanager
async def worker_with(
    client: Client,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    replace: Callable[[ProcedureActivities], Callable[..., Any]],
) -> AsyncIterator[Worker]:
    """The dossier and feedback workflows with the product's procedure activities, one of them
    replaced by a gated one of the same name."""
    procedures = ProcedureActivities(engine, Renderer(), PUBLIC_URL)
    gated = replace(procedures)
    activities = [
        a
        for a in (
            procedures.record_dossier,
            procedures.dossier_resumed_due,
            procedures.dossier_appointment,
            procedures.record_case_notifications,
            procedures.route_feedback,
            procedures.record_feedback,
        )
        if a.__name__ != gated.__name__
    ]
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[DossierWorkflow, FeedbackWorkflow],
        activities=[*activities, gated],
        activity_executor=executor,
        workflow_runner=WORKFLOW_RUNNER,
        max_cached_workflows=max_cached_workflows(),
    ) as worker:
        yield worker


def gated_resumed_due(gate: Gate) -> Callable[[ProcedureActivities], Callable[..., Any]]:
    def replace(procedures: ProcedureActivities) -> Callable[..., Any]:
        @activity.defn(name=activity_names.DOSSIER_RESUMED_DUE)
        async def dossier_resumed_due(request: ResumeDueInput) -> DueTime:
            await gate.hold()
            return procedures.dossier_resumed_due(request)

        return dossier_resumed_due

    return replace


async def failed_workflow_tasks(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events)


async def activities_scheduled(handle: WorkflowHandle[Any, Any], name: str) -> int:
    history = await handle.fetch_history()
    return sum(
        e.activity_task_scheduled_event_attributes.activity_type.name == name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )


def event_kinds(engine: Engine, dossier_id: int) -> list[str]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(DossierEventRow.kind)
                .where(DossierEventRow.dossier_id == dossier_id)
                .order_by(DossierEventRow.seq)
            )
        )


async def updates_accepted(handle: WorkflowHandle[Any, Any], update: str) -> int:
    history = await handle.fetch_history()
    return sum(
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name == update
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )


async def moment_accepted(handle: WorkflowHandle[Any, Any], update: str) -> datetime:
    """`workflow.now()` in the handler of the first accepted `update`: the start of the
    workflow task that accepted it."""
    started = None
    for e in (await handle.fetch_history()).events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started = e.event_time.ToDatetime(tzinfo=UTC)
        elif (
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            == update
        ):
            assert started is not None
            return started
    raise AssertionError(f"no {update} was accepted")


async def paused_dossier(
    env: WorkflowEnvironment, engine: Engine, task_queue: str, commune: str
) -> tuple[WorkflowHandle[DossierWorkflow, DossierState], DossierState, date]:
    """A dossier received on an ordinary Monday at 09:00, due the next Monday, and paused for
    a supplement on the Wednesday at 10:00, with the clock moved to the Friday at 10:00."""
    monday = ordinary_monday_after(await server_now(env), 10)
    await advance_to(env, at(monday, 9))
    request = store_dossier(engine, FIVE_WORKING_DAYS, commune, at(monday, 9))
    assert request.due_at == close(monday + 7 * DAY)
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        request,
        id=dossier_workflow_id(request.dossier_id),
        task_queue=task_queue,
    )
    await advance_to(env, at(monday + 2 * DAY, 10))
    await handle.execute_update(DossierWorkflow.start_processing, DossierStepInput(OFFICER))
    paused = await handle.execute_update(
        DossierWorkflow.request_supplement, DossierStepInput(OFFICER, reason="thiếu bản sao")
    )
    await advance_to(env, at(monday + 4 * DAY, 10))
    return handle, paused, monday


async def supplement_in_flight(
    handle: WorkflowHandle[DossierWorkflow, DossierState], gate: Gate
) -> WorkflowUpdateHandle[DossierState]:
    """A supplement received, accepted and waiting on the calendar."""
    first = await handle.start_update(
        DossierWorkflow.supplement_received,
        DossierStepInput(OFFICER),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    await gate.entered.wait()
    return first


async def test_a_second_identical_supplement_is_refused_while_the_first_is_in_flight(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    gate = Gate()
    async with worker_with(env.client, engine, task_queue, executor, gated_resumed_due(gate)):
        handle, paused, monday = await paused_dossier(env, engine, task_queue, "24133")
        first = await supplement_in_flight(handle, gate)
        second = await handle.start_update(
            DossierWorkflow.supplement_received,
            DossierStepInput(OFFICER),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        # Refused by the validator: no trace in the history, an answer at once.
        assert await updates_accepted(handle, "supplement_received") == 1
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await second.result()
        assert refused.value.cause.message == "the supplement is being received already"  # type: ignore[attr-defined]
        gate.opened.set()
        resumed = await first.result()
        with pytest.raises(WorkflowUpdateFailedError) as third:
            await handle.execute_update(
                DossierWorkflow.supplement_received, DossierStepInput(OFFICER)
            )
        assert third.value.cause.message == (  # type: ignore[attr-defined]
            "no supplement was requested of this dossier: the dossier is processing"
        )
        state = await handle.query(DossierWorkflow.state)
        tasks_failed = await failed_workflow_tasks(handle)
        asked = await activities_scheduled(handle, activity_names.DOSSIER_RESUMED_DUE)
        resumed_at = await moment_accepted(handle, "supplement_received")
        await handle.execute_update(
            DossierWorkflow.refuse, DossierStepInput(OFFICER, reason="hồ sơ rút")
        )
        await handle.result()

    assert (gate.calls, asked, tasks_failed) == (1, 1, 0)
    # Paused from Wednesday 10:00 until the supplement on Friday: counted once, to the second.
    assert paused.paused_at is not None
    pause = int((resumed_at - paused.paused_at).total_seconds())
    assert round(pause / 3600) == 48
    assert (resumed.paused_seconds, state.paused_seconds, state.paused_at) == (pause, pause, None)
    # Thursday and Friday were paused: the due date moves two working days, to the Wednesday.
    assert (state.status.value, state.due_at, resumed.due_at) == (
        "processing",
        close(monday + 9 * DAY),
        close(monday + 9 * DAY),
    )
    assert event_kinds(engine, paused.dossier_id) == [
        "received",
        "processing",
        "supplement_requested",
        "supplement_received",
        "refused",
    ]


async def test_a_refusal_accepted_while_a_supplement_is_in_flight_stands(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    gate = Gate()
    async with worker_with(env.client, engine, task_queue, executor, gated_resumed_due(gate)):
        handle, paused, monday = await paused_dossier(env, engine, task_queue, "24175")
        first = await supplement_in_flight(handle, gate)
        refusal = await handle.start_update(
            DossierWorkflow.refuse,
            DossierStepInput(OFFICER, reason="không đủ điều kiện tách hộ"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        gate.opened.set()
        resumed = await first.result()
        refused = await refusal.result()
        state = await handle.query(DossierWorkflow.state)
        assert state.status.value == "refused"
        result = await handle.result()
        tasks_failed = await failed_workflow_tasks(handle)

    # The supplement is received first (the calendar moved the due date to the Wednesday),
    # then the refusal, on time against the moved due date.
    assert (resumed.status.value, resumed.due_at) == ("processing", close(monday + 9 * DAY))
    assert (refused.status.value, refused.timeliness.value) == ("refused", "early")
    assert (result.status.value, result.refusal_reason, result.paused_at) == (
        "refused",
        "không đủ điều kiện tách hộ",
        None,
    )
    assert tasks_failed == 0
    assert event_kinds(engine, paused.dossier_id) == [
        "received",
        "processing",
        "supplement_requested",
        "supplement_received",
        "refused",
    ]
    assert case_counts(engine, dossier_workflow_id(paused.dossier_id)) == {}


def gated_first_forward(gate: Gate) -> Callable[[ProcedureActivities], Callable[..., Any]]:
    def replace(procedures: ProcedureActivities) -> Callable[..., Any]:
        @activity.defn(name=activity_names.RECORD_FEEDBACK)
        async def record_feedback(request: RecordFeedbackInput) -> None:
            if request.event.kind == FeedbackEventKind.FORWARDED and gate.calls == 0:
                await gate.hold()
            procedures.record_feedback(request)

        return record_feedback

    return replace


async def test_a_feedback_forwarded_on_while_its_first_forward_is_recorded_tells_both_communes(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    gate = Gate()
    monday = ordinary_monday_after(await server_now(env), 19)
    await advance_to(env, at(monday, 9))
    # "Tân An" in the text: routed to Tân An, which forwards it to Tân Lập, which forwards it
    # on to Ea Kar while the first forward is still being written.
    request = store_feedback(engine, "mat nuoc 3 ngay nay o phuong tan an", at(monday, 9))
    case = feedback_workflow_id(request.feedback_id)
    async with worker_with(env.client, engine, task_queue, executor, gated_first_forward(gate)):
        handle: WorkflowHandle[FeedbackWorkflow, FeedbackState] = await env.client.start_workflow(
            FeedbackWorkflow.run, request, id=case, task_queue=task_queue
        )
        await advance_to(env, at(monday + DAY, 9))
        first = await handle.start_update(
            FeedbackWorkflow.forward,
            ForwardInput(actor="commune_leader:Tân An", from_commune=TAN_AN, to_commune=TAN_LAP),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await gate.entered.wait()
        second = await handle.execute_update(
            FeedbackWorkflow.forward,
            ForwardInput(actor="commune_leader:Tân Lập", from_commune=TAN_LAP, to_commune=EA_KAR),
        )
        gate.opened.set()
        await first.result()
        tasks_failed = await failed_workflow_tasks(handle)

    assert (second.commune_code, second.forwarded, tasks_failed) == (EA_KAR, 2, 0)
    assert case_counts(engine, case) == {
        "feedback_routed:routed:commune_leader": 1,
        "feedback_routed:forward-1:commune_leader": 1,
        "feedback_routed:forward-2:commune_leader": 1,
    }
    routed = [
        (n.step, n.commune_code) for n in case_messages(engine, case) if n.kind == "feedback_routed"
    ]
    assert routed == [("routed", TAN_AN), ("forward-2", EA_KAR), ("forward-1", TAN_LAP)]
