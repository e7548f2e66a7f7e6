"""A known history, built through the real workflows on the time-skipping server: one
directive to 100 of the 102 communes, due on day 10, to acknowledge within a day.

- ON_TIME (40): acknowledge at 0.5 d, report on day 5, accepted on day 6;
- REWORKED (10): the same, but returned on day 6, reported again on day 7, accepted on day 8;
- LATE (30): acknowledge at 0.5 d, report on day 11.5 (after the first escalation, on day
  11), accepted on day 12;
- NEVER (20): no answer: overdue, escalated twice (days 11 and 13);
- the last 2 communes get nothing: nothing due, not rated."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.communes import communes_of_province
from db.models import Assignment
from scoring.periods import month_of
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, advance_to, issue
from vocabulary.directives import DirectivePolicy, EscalationStep, assignment_workflow_id
from vocabulary.roles import Role
from workflows.assignment import AssignmentWorkflow
from workflows.types import AcknowledgeInput, ReportInput, ReviewInput

POLICY = DirectivePolicy(
    reminder_offsets_seconds=[86400],
    escalation=[
        EscalationStep(after_seconds=86400, to=Role.OFFICIAL_IN_CHARGE),
        EscalationStep(after_seconds=3 * 86400, to=Role.STEERING_OFFICE),
    ],
    acknowledge_within_seconds=86400,
)


@dataclass
class Scenario:
    url: str
    directive_id: int
    issued_at: datetime
    period: str
    on_time: list[str]
    reworked: list[str]
    late: list[str]
    never: list[str]
    untouched: list[str]
    # commune code → assignment id
    ids: dict[str, int]


async def build(
    env: WorkflowEnvironment, engine: Engine, url: str, task_queue: str, pool: ThreadPoolExecutor
) -> Scenario:
    codes = [c.code for c in communes_of_province()]
    on_time, reworked, late, never = codes[0:40], codes[40:50], codes[50:80], codes[80:100]
    untouched = codes[100:]
    t0 = await env.get_current_time()
    request = store_directive(engine, codes[:100], t0, POLICY, deadline=t0 + 10 * DAY)
    leader = AcknowledgeInput(actor="commune_leader:test")
    report = ReportInput(actor="commune_leader:test", summary="Đã hoàn thành", evidence=["bc.pdf"])
    accept = ReviewInput(actor="steering_office:test", accept=True)
    back = ReviewInput(actor="steering_office:test", accept=False, comment="Thiếu minh chứng")

    async with running_worker(env.client, engine, task_queue, pool):
        await issue(env, request, task_queue)

        async def each(group: list[str], update: Any, arg: Any) -> None:
            # Each commune's update goes to its own workflow: all of a group's at once.
            await asyncio.gather(
                *(
                    env.client.get_workflow_handle(
                        assignment_workflow_id(request.directive_id, code)
                    ).execute_update(update, arg)
                    for code in group
                )
            )

        steps: list[tuple[float, list[str], Any, Any]] = [
            (0.5, on_time + reworked + late, AssignmentWorkflow.acknowledge, leader),
            (5, on_time + reworked, AssignmentWorkflow.report, report),
            (6, on_time, AssignmentWorkflow.review, accept),
            (6, reworked, AssignmentWorkflow.review, back),
            (7, reworked, AssignmentWorkflow.report, report),
            (8, reworked, AssignmentWorkflow.review, accept),
            (11.5, late, AssignmentWorkflow.report, report),
            (12, late, AssignmentWorkflow.review, accept),
        ]
        for day, group, update, arg in steps:
            await advance_to(env, t0 + day * DAY)
            await each(group, update, arg)
        await advance_to(env, t0 + 14 * DAY)

    with Session(engine) as session:
        ids = {
            code: assignment_id
            for code, assignment_id in session.execute(
                select(Assignment.commune_code, Assignment.id).where(
                    Assignment.directive_id == request.directive_id
                )
            )
        }
    return Scenario(
        url=url,
        directive_id=request.directive_id,
        issued_at=t0,
        period=month_of(t0 + 10 * DAY).key,
        on_time=on_time,
        reworked=reworked,
        late=late,
        never=never,
        untouched=untouched,
        ids=ids,
    )
