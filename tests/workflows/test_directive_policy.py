"""A directive to all 102 communes on the time-skipping server, with the product's own
activities on a real database: some communes acknowledge, some report on time, some late, some
never, two get an extension. Every reminder and escalation is counted per commune."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from db.communes import communes_of_province
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, advance_to, assignments, issue, notifications_by_commune
from vocabulary.directives import DirectivePolicy, EscalationStep, assignment_workflow_id
from vocabulary.roles import Role
from workflows.assignment import AssignmentWorkflow
from workflows.types import (
    AcknowledgeInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    ReportInput,
    ReviewInput,
)

POLICY = DirectivePolicy(
    reminder_offsets_seconds=[2 * 86400, 86400, -86400],
    escalation=[
        EscalationStep(after_seconds=86400, to=Role.OFFICIAL_IN_CHARGE),
        EscalationStep(after_seconds=3 * 86400, to=Role.STEERING_OFFICE),
    ],
    acknowledge_within_seconds=86400,
)
ISSUED = "issued:rev-1:commune_leader"
ACK_REMINDER = "reminder:acknowledge:commune_leader"
BEFORE_2D = "reminder:offset172800s-d1:commune_leader"
BEFORE_1D = "reminder:offset86400s-d1:commune_leader"
AFTER_1D = "overdue:offset-86400s-d1:commune_leader"
TO_OFFICIAL = "escalation:level-1:official_in_charge"
TO_OFFICE = "escalation:level-2:steering_office"
SLACK = timedelta(minutes=1)


async def test_each_commune_gets_exactly_the_reminders_and_escalations_its_answers_call_for(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    codes = [c.code for c in communes_of_province()]
    assert len(codes) == 102
    # A: report early; B: report between the reminders; C: acknowledge late, report after the
    # deadline; D: acknowledge, never report; E: never answer; F: extension granted.
    a, b, c, d, e, f = (codes[i : i + 20] for i in range(0, 120, 20))
    assert len(f) == 2
    t0 = await env.get_current_time()
    request = store_directive(engine, codes, t0, POLICY, deadline=t0 + 10 * DAY)

    async with running_worker(env.client, engine, task_queue, executor):
        await issue(env, request, task_queue)

        def handle(code: str):
            return env.client.get_workflow_handle_for(
                AssignmentWorkflow.run, assignment_workflow_id(request.directive_id, code)
            )

        async def each(group: list[str], update, argument) -> None:
            for code in group:
                await handle(code).execute_update(update, argument)

        leader = AcknowledgeInput(actor="commune_leader:test")
        report = ReportInput(
            actor="commune_leader:test", summary="Đã hoàn thành", evidence=["bc.pdf"]
        )
        accept = ReviewInput(actor="steering_office:test", accept=True)

        await advance_to(env, t0 + 0.5 * DAY)
        await each(a + b + d + f, AssignmentWorkflow.acknowledge, leader)
        await advance_to(env, t0 + 2 * DAY)
        await each(c, AssignmentWorkflow.acknowledge, leader)
        await advance_to(env, t0 + 5 * DAY)
        await each(a, AssignmentWorkflow.report, report)
        await advance_to(env, t0 + 6 * DAY)
        await each(a, AssignmentWorkflow.review, accept)
        await advance_to(env, t0 + 7 * DAY)
        await each(
            f,
            AssignmentWorkflow.request_extension,
            ExtensionRequestInput(actor="commune_leader:test", until=t0 + 15 * DAY),
        )
        await advance_to(env, t0 + 7.5 * DAY)
        await each(
            f,
            AssignmentWorkflow.decide_extension,
            ExtensionDecisionInput(actor="steering_office:test", grant=True),
        )
        await advance_to(env, t0 + 8.5 * DAY)
        await each(b, AssignmentWorkflow.report, report)
        await advance_to(env, t0 + 10.5 * DAY)
        await each(c, AssignmentWorkflow.report, report)
        await advance_to(env, t0 + 12 * DAY)
        await each(b + c, AssignmentWorkflow.review, accept)
        await advance_to(env, t0 + 14.5 * DAY)
        await each(f, AssignmentWorkflow.report, report)
        await each(f, AssignmentWorkflow.review, accept)
        await advance_to(env, t0 + 20 * DAY)

        sent = notifications_by_commune(engine, request.directive_id)
        rows = assignments(engine, request.directive_id)

    expected = {
        **{code: Counter({ISSUED: 1}) for code in a},
        **{code: Counter({ISSUED: 1, BEFORE_2D: 1}) for code in b},
        **{code: Counter({ISSUED: 1, ACK_REMINDER: 1, BEFORE_2D: 1, BEFORE_1D: 1}) for code in c},
        **{
            code: Counter(
                {ISSUED: 1, BEFORE_2D: 1, BEFORE_1D: 1, AFTER_1D: 1, TO_OFFICIAL: 1, TO_OFFICE: 1}
            )
            for code in d
        },
        **{
            code: Counter(
                {
                    ISSUED: 1,
                    ACK_REMINDER: 1,
                    BEFORE_2D: 1,
                    BEFORE_1D: 1,
                    AFTER_1D: 1,
                    TO_OFFICIAL: 1,
                    TO_OFFICE: 1,
                }
            )
            for code in e
        },
        # The extension moved the deadline to day 15 on day 7.5: the reminders of the old
        # deadline never came; those of the new one did.
        **{
            code: Counter(
                {
                    ISSUED: 1,
                    "extension_decided:extension-3:commune_leader": 1,
                    "reminder:offset172800s-d2:commune_leader": 1,
                    "reminder:offset86400s-d2:commune_leader": 1,
                }
            )
            for code in f
        },
    }
    assert sent == expected
    assert sum(sum(c.values()) for c in sent.values()) == 408

    outcome = Counter((r.status, r.timeliness, r.escalation_level) for r in rows.values())
    assert outcome == {
        ("completed", "on_time", 0): 42,  # A, B (reported before the deadline), F
        ("completed", "late", 0): 20,  # C
        ("acknowledged", "overdue", 2): 20,  # D
        ("notified", "overdue", 2): 20,  # E
    }
    for code in f:
        assert rows[code].original_deadline == t0 + 10 * DAY
        assert rows[code].deadline == t0 + 15 * DAY
    # The server's clock also runs in real time between two jumps: a few milliseconds.
    for code in b:
        reported_at, completed_at = rows[code].reported_at, rows[code].completed_at
        assert reported_at is not None and completed_at is not None
        assert t0 + 8.5 * DAY <= reported_at <= t0 + 8.5 * DAY + SLACK
        assert t0 + 12 * DAY <= completed_at <= t0 + 12 * DAY + SLACK
