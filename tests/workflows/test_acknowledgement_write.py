"""An acknowledgement is written in the workflow task that answers it (a local activity the
task waits for), on the dev server: the answer arrives with the row already in the read model,
and the server has run one workflow task for it, with no activity task."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from db.models import AssignmentEventRow
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, assignments, issue
from vocabulary.directives import DirectivePolicy, assignment_workflow_id
from workflows.assignment import AssignmentWorkflow
from workflows.types import AcknowledgeInput

COMMUNE = "24133"
POLICY = DirectivePolicy(reminder_offsets_seconds=[86400], escalation=[])


async def test_the_answer_arrives_with_the_acknowledgement_written(
    local_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = local_env
    t0 = await env.get_current_time()
    request = store_directive(engine, [COMMUNE], t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        await issue(env, request, task_queue)
        handle = env.client.get_workflow_handle(
            assignment_workflow_id(request.directive_id, COMMUNE)
        )
        before = len((await handle.fetch_history()).events)
        answer = await handle.execute_update(
            AssignmentWorkflow.acknowledge, AcknowledgeInput("commune_leader:test")
        )
        # Read at once, before anything else runs: no waiting for a write behind the answer.
        row = assignments(engine, request.directive_id)[COMMUNE]
        with Session(engine) as session:
            events = list(
                session.scalars(
                    select(AssignmentEventRow.kind).where(
                        AssignmentEventRow.directive_id == request.directive_id
                    )
                )
            )
        added = [e.event_type for e in (await handle.fetch_history()).events][before:]

    assert answer.written_first is True
    assert (answer.state.status, answer.state.seq) == ("acknowledged", 1)
    assert (row.status, row.seq, row.acknowledged_revision) == ("acknowledged", 1, 1)
    assert events.count("acknowledged") == 1
    # One workflow task: the update, the timer moved to the next step, and the write's marker.
    assert added == [
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        EventType.EVENT_TYPE_TIMER_CANCELED,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_MARKER_RECORDED,
    ]
