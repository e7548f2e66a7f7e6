"""A commune's deadline moves only the way its decisions say: an amendment of the directive's
deadline does not take back a later extension granted to the commune, and a stored extension
request is not granted once an amendment has caught up with it. On the time-skipping server
with the product's own activities."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from sqlalchemy import Engine
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, advance_to, assignments, issue
from vocabulary.directives import AssignmentState, DirectivePolicy, assignment_workflow_id
from vocabulary.refusals import INVALID_TRANSITION
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DirectiveWorkflow
from workflows.types import AmendDirectiveInput, ExtensionDecisionInput, ExtensionRequestInput

EXTENDED, UNEXTENDED = "24121", "24133"
POLICY = DirectivePolicy(reminder_offsets_seconds=[86400], escalation=[])
LEADER = "commune_leader:test"
OFFICE = "steering_office:test"


async def relayed(handle: WorkflowHandle, revision: int) -> AssignmentState:
    """The assignment's state once it has taken the amendment of `revision` (the directive
    relays it as a signal, which may still be on its way when the amendment answers)."""
    for _ in range(400):
        state: AssignmentState = await handle.query(AssignmentWorkflow.state)
        if state.revision >= revision:
            return state
    raise AssertionError(f"{handle.id} never took revision {revision}")


async def amend_deadline(directive: WorkflowHandle, deadline: datetime) -> int:
    amended = await directive.execute_update(
        DirectiveWorkflow.amend, AmendDirectiveInput(actor=OFFICE, deadline=deadline)
    )
    revision: int = amended.revision
    return revision


async def test_a_later_extension_outlasts_an_earlier_amendment_and_a_later_amendment_replaces_it(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    t0 = await env.get_current_time()
    request = store_directive(engine, [EXTENDED, UNEXTENDED], t0, POLICY, deadline=t0 + 7 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        directive = await issue(env, request, task_queue)
        handles = {
            code: env.client.get_workflow_handle(assignment_workflow_id(request.directive_id, code))
            for code in (EXTENDED, UNEXTENDED)
        }
        extended = handles[EXTENDED]
        await extended.execute_update(
            AssignmentWorkflow.request_extension,
            ExtensionRequestInput(actor=LEADER, until=t0 + 20 * DAY, reason="Mưa lũ."),
        )
        granted = await extended.execute_update(
            AssignmentWorkflow.decide_extension, ExtensionDecisionInput(actor=OFFICE, grant=True)
        )
        assert granted.deadline == t0 + 20 * DAY

        # The directive's deadline moves to day 10: the extension to day 20 stands.
        revision = await amend_deadline(directive, t0 + 10 * DAY)
        shorter = {code: await relayed(h, revision) for code, h in handles.items()}
        await advance_to(env, t0 + 15 * DAY)
        on_day_15 = {code: await h.query(AssignmentWorkflow.state) for code, h in handles.items()}
        rows_on_day_15 = assignments(engine, request.directive_id)

        # The directive's deadline moves to day 30, past the extension: the amendment stands.
        revision = await amend_deadline(directive, t0 + 30 * DAY)
        longer = {code: await relayed(h, revision) for code, h in handles.items()}
        rows = assignments(engine, request.directive_id)

    assert {c: (s.deadline, s.original_deadline) for c, s in shorter.items()} == {
        EXTENDED: (t0 + 20 * DAY, t0 + 10 * DAY),
        UNEXTENDED: (t0 + 10 * DAY, t0 + 10 * DAY),
    }
    # Day 15 is past the amended deadline, not past the extension.
    assert {c: s.timeliness for c, s in on_day_15.items()} == {
        EXTENDED: "within_deadline",
        UNEXTENDED: "overdue",
    }
    assert {c: (r.deadline, r.timeliness) for c, r in rows_on_day_15.items()} == {
        EXTENDED: (t0 + 20 * DAY, "within_deadline"),
        UNEXTENDED: (t0 + 10 * DAY, "overdue"),
    }
    assert {c: (s.deadline, s.original_deadline) for c, s in longer.items()} == {
        EXTENDED: (t0 + 30 * DAY, t0 + 30 * DAY),
        UNEXTENDED: (t0 + 30 * DAY, t0 + 30 * DAY),
    }
    assert {c: (r.deadline, r.original_deadline) for c, r in rows.items()} == {
        EXTENDED: (t0 + 30 * DAY, t0 + 30 * DAY),
        UNEXTENDED: (t0 + 30 * DAY, t0 + 30 * DAY),
    }


@pytest.mark.parametrize("amended_to_days", [12, 15])
async def test_a_request_an_amendment_has_caught_up_with_is_not_granted_as_it_stands(
    time_env: WorkflowEnvironment,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    amended_to_days: int,
) -> None:
    env = time_env
    t0 = await env.get_current_time()
    request = store_directive(engine, [EXTENDED], t0, POLICY, deadline=t0 + 7 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        directive = await issue(env, request, task_queue)
        handle = env.client.get_workflow_handle(
            assignment_workflow_id(request.directive_id, EXTENDED)
        )
        await handle.execute_update(
            AssignmentWorkflow.request_extension,
            ExtensionRequestInput(actor=LEADER, until=t0 + 12 * DAY, reason="Chờ số liệu."),
        )
        # The amendment reaches the requested date (day 12) or passes it (day 15).
        revision = await amend_deadline(directive, t0 + amended_to_days * DAY)
        await relayed(handle, revision)

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                AssignmentWorkflow.decide_extension,
                ExtensionDecisionInput(actor=OFFICE, grant=True),
            )
        after = await handle.query(AssignmentWorkflow.state)
        # A later date given with the grant is still an extension.
        granted = await handle.execute_update(
            AssignmentWorkflow.decide_extension,
            ExtensionDecisionInput(actor=OFFICE, grant=True, until=t0 + 20 * DAY),
        )

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.message) == (
        INVALID_TRANSITION,
        "the requested date is no longer later than the current deadline: "
        "grant a later date, or refuse the request",
    )
    assert (after.deadline, after.extension_requested_until) == (
        t0 + amended_to_days * DAY,
        t0 + 12 * DAY,
    )
    assert (granted.deadline, granted.original_deadline, granted.extension_requested_until) == (
        t0 + 20 * DAY,
        t0 + amended_to_days * DAY,
        None,
    )
