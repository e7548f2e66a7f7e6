"""A directive whose history grows long continues as new with what it knows: its plan, its
revision and the assignments already closed. The bound is lowered here to a few events so that
a dozen communes cross it; at national scale it is what keeps 3,321 closing signals under
Temporal's 4,096-event hint (tests/scale)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

import workflows.directive
from db.communes import communes_of_province
from db.models import Directive
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, issue, runner_passing_through
from vocabulary.directives import DirectivePolicy, DirectiveStatus, assignment_workflow_id
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DirectiveWorkflow
from workflows.types import AmendDirectiveInput, DirectiveRevision, ReportInput, ReviewInput

LOWERED_BOUND = 12


async def test_a_long_directive_continues_as_new_and_still_closes_once_all_have_closed(
    local_env: WorkflowEnvironment,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The sandbox imports workflow modules afresh; passed through, they see this change.
    monkeypatch.setattr(workflows.directive, "CONTINUE_AS_NEW_AFTER_EVENTS", LOWERED_BOUND)
    # The dev server: the time-skipping one reports no history length to the workflow.
    env = local_env
    t0 = await env.get_current_time()
    communes = [c.code for c in communes_of_province()][:6]
    request = store_directive(engine, communes, t0, DirectivePolicy(), deadline=t0 + 5 * DAY)
    runner = runner_passing_through("workflows", "vocabulary")
    async with running_worker(env.client, engine, task_queue, executor, workflow_runner=runner):
        directive = await issue(env, request, task_queue)
        # An amendment after the first run: its revision must survive the next continue.
        amended = await env.client.get_workflow_handle(directive.id).execute_update(
            DirectiveWorkflow.amend, AmendDirectiveInput("office", body="Bổ sung")
        )
        for code in communes:
            handle = env.client.get_workflow_handle(
                assignment_workflow_id(request.directive_id, code)
            )
            await handle.execute_update(AssignmentWorkflow.report, ReportInput("leader", "Xong"))
            await handle.execute_update(AssignmentWorkflow.review, ReviewInput("office", True))
        result = await env.client.get_workflow_handle(
            directive.id, result_type=DirectiveRevision
        ).result()
        last = await env.client.get_workflow_handle(directive.id).fetch_history()
    assert amended.revision == 2
    assert (result.status, result.revision) == (DirectiveStatus.CLOSED, 2)
    started = last.events[0].workflow_execution_started_event_attributes
    # The run that closed was started by a continue-as-new, carrying the state it closed on.
    assert started.continued_execution_run_id != ""
    assert len(last.events) < 40
    with Session(engine) as session:
        stored = session.get(Directive, request.directive_id)
        assert stored is not None and stored.status == "closed"
