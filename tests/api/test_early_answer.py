"""A commune that answers before the fan-out has reached it (a click within a second of issue,
or commune 3,000 of a national directive) is not turned away: its workflow starts with the
input the fan-out would give it, and the fan-out later joins it instead of starting another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.fanout import FanOutActivities
from activities.records import RecordActivities
from tests.conftest import ApiClient
from tests.factories import store_directive
from vocabulary.directives import DirectivePolicy, assignment_workflow_id
from workflows.assignment import AssignmentWorkflow
from workflows.types import StartAssignmentsInput


async def test_an_acknowledgement_before_the_fan_out_starts_the_assignment_once(
    api: ApiClient, engine: Engine, task_queue: str
) -> None:
    issued_at = datetime.now(UTC)
    request = store_directive(
        engine,
        ["24121", "24133"],
        issued_at,
        DirectivePolicy(),
        deadline=issued_at + timedelta(days=7),
    )
    # The plan is settled and the assignments recorded; no assignment workflow runs yet.
    plan = ActivityEnvironment().run(RecordActivities(engine).plan_directive, request)
    leader = await api.token("commune_leader", "24133")
    path = f"/api/v1/directives/{request.directive_id}/assignments/24133/acknowledge"

    answer = await api.request("POST", path, token=leader)

    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["already_acknowledged"]) == (
        "acknowledged",
        False,
    )
    handle = api.temporal.get_workflow_handle(assignment_workflow_id(request.directive_id, "24133"))
    first_run = (await handle.describe()).run_id
    started = await ActivityEnvironment().run(
        FanOutActivities(api.temporal).start_assignments,
        StartAssignmentsInput(
            plan=plan, policy=request.policy, issued_at=request.issued_at, task_queue=task_queue
        ),
    )
    assert started == 2
    assert (await handle.describe()).run_id == first_run
    state = await handle.query(AssignmentWorkflow.state)
    assert (state.status, state.deadline) == ("acknowledged", issued_at + timedelta(days=7))
    again = await api.request("POST", path, token=leader)
    assert again.json()["already_acknowledged"] is True
