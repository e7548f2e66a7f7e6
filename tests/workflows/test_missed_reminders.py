"""Workers back after a long outage: every reminder an assignment missed is past due at once.
Only the latest is sent, the escalation still fires, and the timeline says how many reminders
were skipped. On the time-skipping server with the product's own activities, the worker stopped
while the clock passes three reminders and the first escalation."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from db.models import AssignmentEventRow
from tests.conftest import running_worker
from tests.factories import store_directive
from tests.workflows.helpers import DAY, acknowledge, advance_to, issue, notifications_by_commune
from vocabulary.directives import DirectivePolicy, EscalationStep, assignment_workflow_id
from vocabulary.events import AssignmentEventKind
from vocabulary.roles import Role
from worker import WORKFLOWS
from workflows import activity_names
from workflows.assignment import AssignmentWorkflow
from workflows.types import AcknowledgeInput, IssueDirectiveInput

COMMUNE = "24121"
POLICY = DirectivePolicy(
    reminder_offsets_seconds=[3 * 86400, 2 * 86400, 86400],
    escalation=[EscalationStep(after_seconds=86400, to=Role.OFFICIAL_IN_CHARGE)],
)
ISSUED = "issued:rev-1:commune_leader"
BEFORE_1D = "reminder:offset86400s-d1:commune_leader"
TO_OFFICIAL = "escalation:level-1:official_in_charge"
# The assignment's history from `catch_up_after_an_outage`, recorded by the code before only the
# latest missed reminder was sent.
BEFORE_THE_CHANGE = Path(__file__).with_name("missed_reminders_before_the_change.json")


def events(engine: Engine, directive_id: int) -> list[AssignmentEventRow]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AssignmentEventRow)
                .where(AssignmentEventRow.directive_id == directive_id)
                .order_by(AssignmentEventRow.seq)
            )
        )


async def outage_until(env: WorkflowEnvironment, moment: datetime, workflow_id: str) -> None:
    """Move the clock to `moment` while no worker runs. The time-skipping server holds its clock
    while a workflow task waits for a worker, and the first timer that fires leaves one waiting:
    the test's own hold is released, the clock runs to that timer, and once its workflow task
    is waiting (the hold that stops the clock) the sleep releases that one. The test's hold is
    taken back after. Sleeping before the task waits would release a hold nobody took."""
    await env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
    await timer_fired_and_task_waiting(env, workflow_id)
    await advance_to(env, moment)
    await env.client.test_service.lock_time_skipping(LockTimeSkippingRequest())


async def timer_fired_and_task_waiting(env: WorkflowEnvironment, workflow_id: str) -> None:
    handle = env.client.get_workflow_handle(workflow_id)
    for _ in range(600):
        kinds = [e.event_type for e in (await handle.fetch_history()).events]
        if (
            EventType.EVENT_TYPE_TIMER_FIRED in kinds
            and kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the assignment's first timer did not fire in 30 s")


async def escalation_recorded(engine: Engine, directive_id: int) -> None:
    """Wait until the escalation's event and notice are both written: the last step due."""
    for _ in range(600):
        escalated = any(
            e.kind == AssignmentEventKind.ESCALATED for e in events(engine, directive_id)
        )
        notices = notifications_by_commune(engine, directive_id).get(COMMUNE, Counter())
        if escalated and TO_OFFICIAL in notices:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the escalation was not recorded in 30 s")


async def catch_up_after_an_outage(
    env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> tuple[IssueDirectiveInput, Counter[str], Counter[str], list[str], WorkflowHistory]:
    """Issue to one commune, stop the worker, let the clock pass the three reminders (days 2, 3
    and 4), the deadline (day 5) and the escalation (day 6), and bring a worker back; once the
    escalation is recorded the commune acknowledges, which wakes the assignment's clock again.
    The notices before the outage and at the end, the steps the assignment asked notices for
    (its journal) and its history."""
    t0 = await env.get_current_time()
    deadline = t0 + 5 * DAY
    request = store_directive(engine, [COMMUNE], t0, POLICY, deadline=deadline)
    # No workflow cache, so no sticky queue: the assignment's next task goes to the shared queue,
    # where the worker that comes back finds it (a sticky queue's timeout would need the clock).
    async with running_worker(env.client, engine, task_queue, executor, max_cached_workflows=0):
        await issue(env, request, task_queue)
    before = notifications_by_commune(engine, request.directive_id)[COMMUNE]

    workflow_id = assignment_workflow_id(request.directive_id, COMMUNE)
    await outage_until(env, deadline + 1.5 * DAY, workflow_id)
    handle = env.client.get_workflow_handle(workflow_id)
    async with running_worker(env.client, engine, task_queue, executor):
        await escalation_recorded(engine, request.directive_id)
        await acknowledge(handle, engine, AcknowledgeInput(actor="commune_leader:test"))
        journal = await handle.query(AssignmentWorkflow.journal)
        history = await handle.fetch_history()
    after = notifications_by_commune(engine, request.directive_id)[COMMUNE]
    return request, before, after, [n.step for n in journal.notifications], history


async def test_after_an_outage_only_the_latest_missed_reminder_is_sent_and_the_skip_is_told(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    request, before, after, asked, history = await catch_up_after_an_outage(
        time_env, engine, task_queue, executor
    )
    timeline = events(engine, request.directive_id)
    replayed = await Replayer(workflows=WORKFLOWS).replay_workflow(
        history, raise_on_replay_failure=False
    )

    assert before == {ISSUED: 1}
    assert after == {ISSUED: 1, BEFORE_1D: 1, TO_OFFICIAL: 1}
    # The skipped reminders are marked fired: waking the clock again sends none of them.
    assert asked == ["offset86400s-d1", "level-1"]
    assert [(e.kind, e.detail) for e in timeline] == [
        (
            AssignmentEventKind.REMINDERS_SKIPPED,
            {
                "sent": "reminder:86400:1",
                "skipped": "2",
                "skipped_keys": "reminder:259200:1,reminder:172800:1",
            },
        ),
        (AssignmentEventKind.OVERDUE, {}),
        (AssignmentEventKind.ESCALATED, {"level": "1", "to": "official_in_charge"}),
        (AssignmentEventKind.ACKNOWLEDGED, {"revision": "1"}),
    ]
    assert replayed.replay_failure is None


async def test_a_catch_up_begun_before_the_change_replays_as_it_ran() -> None:
    """An assignment that caught up by sending every missed reminder, recorded by the code
    before the change, replays on the code now: the skip is behind `workflow.patched`."""
    history = WorkflowHistory.from_json("before", BEFORE_THE_CHANGE.read_text())
    sent = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    replayed = await Replayer(workflows=WORKFLOWS).replay_workflow(
        history, raise_on_replay_failure=False
    )

    # The code before the change sent all three reminders, then the escalation's notice.
    assert sent.count(activity_names.RECORD_NOTIFICATIONS) == 4
    assert replayed.replay_failure is None
