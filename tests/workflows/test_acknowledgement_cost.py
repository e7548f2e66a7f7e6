"""What an acknowledgement costs the engine, and where its record goes when no caller wrote it.

The API writes an acknowledgement's record from the update's answer; the workflow carries the
same record with its own next write (a report, a reminder's notice, the close). So the answer's
workflow task holds the update and nothing else: no patch marker, no timer moved, no activity,
no second task. A caller that died between the answer and its write leaves the row behind only
until that next write."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.models import AssignmentEventRow
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, advance_to, assignments, issue
from vocabulary.directives import DirectivePolicy, EscalationStep, assignment_workflow_id
from vocabulary.events import AssignmentEventKind
from vocabulary.roles import Role
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DirectiveWorkflow
from workflows.types import (
    AcknowledgeInput,
    IssueDirectiveInput,
    RecallDirectiveInput,
    ReportInput,
)

COMMUNE = "24133"
LEADER = AcknowledgeInput(actor="commune_leader:test")
POLICY = DirectivePolicy(
    reminder_offsets_seconds=[86400],
    escalation=[EscalationStep(after_seconds=86400, to=Role.OFFICIAL_IN_CHARGE)],
)
# The answer's workflow task as the server records it: the task, then the update accepted and
# completed in it. Before, the same task also held two patch markers with a search-attribute
# upsert each, the write's activity and the timer cancelled and started again; the activity and
# a second workflow task followed.
ANSWER_ONLY = [
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
]


async def open_assignment(
    env: WorkflowEnvironment, request: IssueDirectiveInput, task_queue: str
) -> tuple[WorkflowHandle[Any, Any], WorkflowHandle[Any, Any]]:
    """Issue the directive to its one commune: the directive's handle and the assignment's."""
    directive = await issue(env, request, task_queue)
    assignment = env.client.get_workflow_handle(
        assignment_workflow_id(request.directive_id, COMMUNE)
    )
    return directive, assignment


def event_kinds(engine: Engine, directive_id: int) -> list[AssignmentEventKind]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AssignmentEventRow.kind)
                .where(AssignmentEventRow.directive_id == directive_id)
                .order_by(AssignmentEventRow.seq)
            )
        )


async def test_an_answer_costs_the_server_its_update_only_and_the_next_write_carries_its_record(
    local_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    # The dev server: the real server's speculative task for an update, as in service.
    env = local_env
    t0 = await env.get_current_time()
    request = store_directive(engine, [COMMUNE], t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        _, handle = await open_assignment(env, request, task_queue)
        before = len((await handle.fetch_history()).events)
        answer = await handle.execute_update(AssignmentWorkflow.acknowledge, LEADER)
        answered = [e.event_type for e in (await handle.fetch_history()).events][before:]
        # No caller wrote the answer's record: the row still shows the issue.
        unwritten = assignments(engine, request.directive_id)[COMMUNE].status
        kinds_unwritten = event_kinds(engine, request.directive_id)
        await handle.execute_update(
            AssignmentWorkflow.report, ReportInput(actor="commune_leader:test", summary="Xong")
        )
        row = assignments(engine, request.directive_id)[COMMUNE]

    assert answered == ANSWER_ONLY
    assert (answer.state.status, answer.state.seq) == ("acknowledged", 1)
    assert (unwritten, kinds_unwritten) == ("notified", [])
    # The report's write carried the acknowledgement before it, in the order they happened.
    assert event_kinds(engine, request.directive_id) == [
        AssignmentEventKind.ACKNOWLEDGED,
        AssignmentEventKind.REPORTED,
    ]
    assert (row.status, row.acknowledged_revision, row.acknowledged_at) == (
        "reported",
        1,
        answer.state.acknowledged_at,
    )


async def test_an_unwritten_answer_goes_with_the_next_reminder(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    t0 = await env.get_current_time()
    request = store_directive(engine, [COMMUNE], t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        _, handle = await open_assignment(env, request, task_queue)
        await handle.execute_update(AssignmentWorkflow.acknowledge, LEADER)
        await advance_to(env, t0 + 2 * DAY)
        early = assignments(engine, request.directive_id)[COMMUNE].status
        # The reminder a day before the deadline (day 9) is the assignment's next write.
        await advance_to(env, t0 + 9.5 * DAY)
        row = assignments(engine, request.directive_id)[COMMUNE]

    assert early == "notified"
    assert (row.status, row.acknowledged_revision) == ("acknowledged", 1)
    assert event_kinds(engine, request.directive_id) == [AssignmentEventKind.ACKNOWLEDGED]


async def test_an_unwritten_answer_goes_with_the_close(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    t0 = await env.get_current_time()
    request = store_directive(engine, [COMMUNE], t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        directive, handle = await open_assignment(env, request, task_queue)
        await handle.execute_update(AssignmentWorkflow.acknowledge, LEADER)
        await directive.execute_update(
            DirectiveWorkflow.recall, RecallDirectiveInput(actor="steering_office:test")
        )
        await directive.result()
        row = assignments(engine, request.directive_id)[COMMUNE]

    assert (row.status, row.acknowledged_revision) == ("cancelled", 1)
    assert event_kinds(engine, request.directive_id) == [
        AssignmentEventKind.ACKNOWLEDGED,
        AssignmentEventKind.CANCELLED,
    ]


async def test_asked_the_assignment_writes_the_waiting_record_at_once(
    local_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    """What the API does when its own write of an answer fails, or when a repeat click finds
    the row behind: it signals, and the assignment writes what it carries, retrying."""
    env = local_env
    t0 = await env.get_current_time()
    request = store_directive(engine, [COMMUNE], t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        _, handle = await open_assignment(env, request, task_queue)
        await handle.execute_update(AssignmentWorkflow.acknowledge, LEADER)
        await handle.signal(AssignmentWorkflow.write_waiting_records)
        for _ in range(600):
            if event_kinds(engine, request.directive_id):
                break
            await asyncio.sleep(0.05)
        # Asked again with nothing waiting: nothing more is written.
        await handle.signal(AssignmentWorkflow.write_waiting_records)
        await handle.execute_update(
            AssignmentWorkflow.report, ReportInput(actor="commune_leader:test", summary="Xong")
        )
        history = (await handle.fetch_history()).events
        row = assignments(engine, request.directive_id)[COMMUNE]

    written = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert written == ["record_assignments", "record_assignment"]
    assert event_kinds(engine, request.directive_id) == [
        AssignmentEventKind.ACKNOWLEDGED,
        AssignmentEventKind.REPORTED,
    ]
    assert (row.status, row.acknowledged_revision) == ("reported", 1)
