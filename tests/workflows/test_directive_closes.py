"""A directive closes when the last of its assignments has closed, and says so in the read
model."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.models import Directive
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, issue
from vocabulary.directives import DirectivePolicy, DirectiveStatus, assignment_workflow_id
from workflows.assignment import AssignmentWorkflow
from workflows.types import ReportInput, ReviewInput


async def test_the_directive_closes_after_its_last_assignment_is_accepted(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    t0 = await env.get_current_time()
    communes = ["24121", "24133"]
    request = store_directive(engine, communes, t0, DirectivePolicy(), deadline=t0 + 5 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        directive = await issue(env, request, task_queue)
        for code in communes:
            handle = env.client.get_workflow_handle(
                assignment_workflow_id(request.directive_id, code)
            )
            await handle.execute_update(AssignmentWorkflow.report, ReportInput("leader", "Xong"))
            await handle.execute_update(AssignmentWorkflow.review, ReviewInput("office", True))
        result = await directive.result()
    assert (result.status, result.revision) == (DirectiveStatus.CLOSED, 1)
    with Session(engine) as session:
        stored = session.get(Directive, request.directive_id)
        assert stored is not None and stored.status == "closed"
