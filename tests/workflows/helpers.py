"""Driving directives on the time-skipping server: start one, wait for its fan-out, move the
clock to a point of the scenario, count what was recorded."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.records import write_assignment_record
from db.models import Assignment, Notification
from tests.fan_out import until_fanned_out
from vocabulary.directives import directive_workflow_id
from worker import WORKFLOW_RUNNER
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DirectiveWorkflow
from workflows.types import (
    AcknowledgeInput,
    DirectiveRevision,
    IssueDirectiveInput,
    RecordAssignmentInput,
)

DAY = timedelta(days=1)


async def issue(
    env: WorkflowEnvironment, request: IssueDirectiveInput, task_queue: str
) -> WorkflowHandle[DirectiveWorkflow, DirectiveRevision]:
    """Start the directive and return once every assignment workflow has been started."""
    handle = await env.client.start_workflow(
        DirectiveWorkflow.run,
        request,
        id=directive_workflow_id(request.directive_id),
        task_queue=task_queue,
    )
    await handle.execute_update(DirectiveWorkflow.wait_for_plan)
    await until_fanned_out(handle, seconds=60)
    return handle


def runner_passing_through(*packages: str) -> SandboxedWorkflowRunner:
    """The worker's runner, passing `packages` through as well: for a test that lowers a
    workflow module's constant (monkeypatch), which the sandbox's fresh import would not see.
    Pass whole packages, ("workflows", "vocabulary"): a workflow module passed through alone
    would hand the converter its messages' classes with names the sandbox's modules lack."""
    restrictions = WORKFLOW_RUNNER.restrictions
    return SandboxedWorkflowRunner(restrictions=restrictions.with_passthrough_modules(*packages))


async def advance_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Move the server's clock to `moment`; timers due on the way fire and their work runs."""
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


def notifications_by_commune(engine: Engine, directive_id: int) -> dict[str, Counter[str]]:
    """{commune: Counter({"reminder:offset86400s-d1": 1, ...})} keyed by kind, step and role."""
    found: dict[str, Counter[str]] = {}
    with Session(engine) as session:
        for n in session.scalars(
            select(Notification).where(Notification.directive_id == directive_id)
        ):
            found.setdefault(n.commune_code, Counter())[
                f"{n.kind}:{n.step}:{n.recipient_role}"
            ] += 1
    return found


def assignments(engine: Engine, directive_id: int) -> dict[str, Assignment]:
    with Session(engine, expire_on_commit=False) as session:
        return {
            a.commune_code: a
            for a in session.scalars(
                select(Assignment).where(Assignment.directive_id == directive_id)
            )
        }


async def acknowledge(
    handle: WorkflowHandle[Any, Any], engine: Engine, request: AcknowledgeInput
) -> RecordAssignmentInput:
    """Acknowledge as the API does: the update answers with its record, and the caller writes
    it (the workflow carries it with its own next write)."""
    record = await handle.execute_update(AssignmentWorkflow.acknowledge, request)
    with Session(engine) as session, session.begin():
        write_assignment_record(session, record)
    return record
