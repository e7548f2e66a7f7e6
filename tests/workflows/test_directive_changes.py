"""Amendments, recall, refused transitions and working-day deadlines, on the time-skipping
server with the product's own activities."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from db.models import Directive
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import (
    DAY,
    acknowledge,
    advance_to,
    assignments,
    issue,
    notifications_by_commune,
)
from vocabulary.directives import (
    DirectivePolicy,
    DirectiveStatus,
    EscalationStep,
    assignment_workflow_id,
)
from vocabulary.refusals import ALREADY_ACKNOWLEDGED, INVALID_TRANSITION
from vocabulary.roles import Role
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DirectiveWorkflow
from workflows.types import (
    AcknowledgeInput,
    AmendDirectiveInput,
    RecallDirectiveInput,
    ReportInput,
    ReviewInput,
)

COMMUNES = ["24121", "24133", "24175"]
POLICY = DirectivePolicy(
    reminder_offsets_seconds=[86400],
    escalation=[
        EscalationStep(after_seconds=86400, to=Role.OFFICIAL_IN_CHARGE),
        EscalationStep(after_seconds=3 * 86400, to=Role.STEERING_OFFICE),
    ],
)
LEADER = AcknowledgeInput(actor="commune_leader:test")


async def test_an_amended_deadline_moves_the_reminders_and_the_ladder_and_a_recall_stops_them(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    t0 = await env.get_current_time()
    request = store_directive(engine, COMMUNES, t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        directive = await issue(env, request, task_queue)
        first = env.client.get_workflow_handle(
            assignment_workflow_id(request.directive_id, "24121")
        )
        await first.execute_update(AssignmentWorkflow.acknowledge, LEADER)

        await advance_to(env, t0 + 5 * DAY)
        amended = await directive.execute_update(
            DirectiveWorkflow.amend,
            AmendDirectiveInput(actor="steering_office:test", deadline=t0 + 20 * DAY),
        )
        assert (amended.revision, amended.content_changed) == (2, False)
        await advance_to(env, t0 + 21.5 * DAY)
        recalled = await directive.execute_update(
            DirectiveWorkflow.recall, RecallDirectiveInput(actor="steering_office:test")
        )
        assert recalled.status == DirectiveStatus.RECALLED
        await advance_to(env, t0 + 30 * DAY)
        sent = notifications_by_commune(engine, request.directive_id)
        rows = assignments(engine, request.directive_id)
        assert await directive.result() == recalled

    # The day-9 reminder of the first deadline never came; the day-19 one of the amended
    # deadline did; the first rung fired on day 21; the recall on day 21.5 stopped the second.
    per_commune = Counter(
        {
            "issued:rev-1:commune_leader": 1,
            "amended:rev-2:commune_leader": 1,
            "reminder:offset86400s-d2:commune_leader": 1,
            "escalation:level-1:official_in_charge": 1,
            "recalled:recall:commune_leader": 1,
        }
    )
    assert sent == {code: per_commune for code in COMMUNES}
    assert {code: (r.status, r.escalation_level) for code, r in rows.items()} == {
        code: ("cancelled", 1) for code in COMMUNES
    }
    # Only the deadline moved: the acknowledgement of the text still stands.
    assert (rows["24121"].acknowledged_revision, rows["24121"].revision) == (2, 2)
    assert rows["24121"].deadline == rows["24121"].original_deadline == t0 + 20 * DAY
    with Session(engine) as session:
        assert session.get(Directive, request.directive_id).status == "recalled"  # type: ignore[union-attr]


async def test_a_new_text_asks_for_acknowledgement_again(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    t0 = await env.get_current_time()
    request = store_directive(engine, COMMUNES, t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        directive = await issue(env, request, task_queue)
        handles = {
            code: env.client.get_workflow_handle(assignment_workflow_id(request.directive_id, code))
            for code in COMMUNES
        }
        await handles["24121"].execute_update(AssignmentWorkflow.acknowledge, LEADER)
        await handles["24133"].execute_update(
            AssignmentWorkflow.report, ReportInput(actor="commune_leader:test", summary="Xong")
        )
        amended = await directive.execute_update(
            DirectiveWorkflow.amend,
            AmendDirectiveInput(actor="steering_office:test", body="Nội dung mới"),
        )
        assert (amended.revision, amended.content_changed) == (2, True)
        # The relay is a signal: wait until the acknowledged assignment has taken it.
        for _ in range(200):
            state = await handles["24121"].query(AssignmentWorkflow.state)
            if state.revision == 2:
                break
        assert (state.status, state.acknowledged_revision) == ("notified", 1)
        again = await acknowledge(handles["24121"], engine, LEADER)
        assert (again.state.status, again.state.acknowledged_revision) == ("acknowledged", 2)
        rows = assignments(engine, request.directive_id)

    assert {c: (r.status, r.revision, r.acknowledged_revision) for c, r in rows.items()} == {
        "24121": ("acknowledged", 2, 2),
        "24133": ("reported", 2, 1),  # the report stands; its text was the first one
        "24175": ("notified", 2, 0),
    }
    with Session(engine) as session:
        stored = session.get(Directive, request.directive_id)
        assert stored is not None
        assert (stored.body, stored.revision) == ("Nội dung mới", 2)


async def test_refused_transitions_say_why_and_leave_no_trace_in_history(
    local_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    # The real server runs validators in a speculative task that leaves no event behind; the
    # time-skipping test server does not, so this runs on the dev server.
    env = local_env
    t0 = await env.get_current_time()
    request = store_directive(engine, ["24133"], t0, POLICY, deadline=t0 + 10 * DAY)
    async with running_worker(env.client, engine, task_queue, executor):
        await issue(env, request, task_queue)
        handle = env.client.get_workflow_handle(
            assignment_workflow_id(request.directive_id, "24133")
        )
        await handle.execute_update(AssignmentWorkflow.acknowledge, LEADER)
        # The answer's task is the acknowledgement's last: its record waits for the next write.
        events_before = len((await handle.fetch_history()).events)

        refusals = {}
        cases: list[tuple[str, Any, object]] = [
            ("acknowledge twice", AssignmentWorkflow.acknowledge, LEADER),
            ("review before report", AssignmentWorkflow.review, ReviewInput("office", True)),
            ("empty report", AssignmentWorkflow.report, ReportInput("leader", "  ")),
        ]
        for name, update, argument in cases:
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(update, argument)
            cause = refused.value.cause
            assert isinstance(cause, ApplicationError)
            refusals[name] = (cause.type, cause.message)
        events_after = len((await handle.fetch_history()).events)

    assert refusals == {
        "acknowledge twice": (ALREADY_ACKNOWLEDGED, "already acknowledged"),
        "review before report": (
            INVALID_TRANSITION,
            "nothing to review: the assignment is acknowledged",
        ),
        "empty report": (INVALID_TRANSITION, "a report needs a summary"),
    }
    assert events_after == events_before


async def test_a_working_day_deadline_skips_tet_and_is_settled_once(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    # Issued Wednesday 3 Feb 2027, 09:00 in Vietnam; Tết closes offices Thu 4 – Wed 10 Feb.
    # Five working days: Thu 11, Fri 12, Mon 15, Tue 16, Wed 17 Feb → 17:00 on 17 Feb 2027.
    issued_at = datetime(2027, 2, 3, 2, 0, tzinfo=UTC)
    request = store_directive(engine, COMMUNES, issued_at, POLICY, due_in_working_days=5)
    async with running_worker(time_env.client, engine, task_queue, executor):
        directive = await issue(time_env, request, task_queue)
        plan = await directive.execute_update(DirectiveWorkflow.wait_for_plan)
    expected = datetime(2027, 2, 17, 10, 0, tzinfo=UTC)
    assert plan.deadline == expected
    with Session(engine) as session:
        stored = session.scalar(select(Directive).where(Directive.id == request.directive_id))
        assert stored is not None and stored.deadline == expected
    assert {r.deadline for r in assignments(engine, request.directive_id).values()} == {expected}
