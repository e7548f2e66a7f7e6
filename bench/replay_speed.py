"""What the sandbox costs: replays under the worker's sandboxed runner, and under the same runner
with the workflow modules passed through (as the worker once ran them).

    .venv/bin/python -m bench.replay_speed [communes] [replays]

One long history: a directive recorded on an in-memory dev server, its activities replaced by
fakes, with a closing signal from each of `communes` communes (3,321 by default: the country);
the first run of its history is the longest a directive has. Each runner replays it `replays`
times (15 by default). Many short ones: every recorded history under tests/histories, ten times
over, through one replayer (a fresh workflow run each, as a worker starts one per assignment),
`replays` // 3 rounds. The runners take turns, so a busier moment of the machine weighs on both
alike; medians and the fastest are printed."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from vocabulary.directives import AssignmentStatus, DirectivePolicy, directive_workflow_id
from worker import WORKFLOW_RUNNER, WORKFLOWS
from workflows import activity_names
from workflows.directive import DirectiveWorkflow
from workflows.types import (
    AssignmentClosed,
    DirectivePlan,
    DirectiveStatusInput,
    IssueDirectiveInput,
    NotifyInput,
    NotifyResult,
    StartAssignmentsInput,
)

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
RECORDED = Path(__file__).parents[1] / "tests" / "histories"
RECORDED_TIMES_OVER = 10
TASK_QUEUE = "replay-speed"
COUNTRY = 3321
SIGNALS_AT_ONCE = 64
RUN_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


@activity.defn(name=activity_names.PLAN_DIRECTIVE)
async def plan_directive(request: IssueDirectiveInput) -> DirectivePlan:
    assert request.deadline is not None
    return DirectivePlan(request.directive_id, request.deadline, None, request.communes)


@activity.defn(name=activity_names.START_ASSIGNMENTS)
async def start_assignments(request: StartAssignmentsInput) -> int:
    return len(request.plan.communes)


@activity.defn(name=activity_names.RECORD_NOTIFICATIONS)
async def record_notifications(request: NotifyInput) -> NotifyResult:
    return NotifyResult(recorded=len(request.communes), already_recorded=0)


@activity.defn(name=activity_names.SET_DIRECTIVE_STATUS)
async def set_directive_status(request: DirectiveStatusInput) -> None:
    return None


async def record_history(communes: int) -> WorkflowHistory:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), ui=False, dev_server_log_level="error"
    )
    try:
        client = env.client
        codes = [f"{n:05d}" for n in range(communes)]
        now = datetime.now(UTC)
        request = IssueDirectiveInput(
            directive_id=1,
            communes=codes,
            issued_at=now,
            policy=DirectivePolicy(),
            deadline=now + timedelta(days=30),
        )
        async with Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[DirectiveWorkflow],
            activities=[
                plan_directive,
                start_assignments,
                record_notifications,
                set_directive_status,
            ],
            workflow_runner=WORKFLOW_RUNNER,
        ):
            handle = await client.start_workflow(
                DirectiveWorkflow.run,
                request,
                id=directive_workflow_id(1),
                task_queue=TASK_QUEUE,
            )
            await handle.execute_update(DirectiveWorkflow.wait_for_plan)
            gate = asyncio.Semaphore(SIGNALS_AT_ONCE)

            async def closed(code: str) -> None:
                async with gate:
                    await handle.signal(
                        DirectiveWorkflow.assignment_closed,
                        AssignmentClosed(commune_code=code, status=AssignmentStatus.COMPLETED),
                    )

            await asyncio.gather(*(closed(code) for code in codes))
            # The first run, once it has closed (completed, or continued as new past the bound).
            first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
            for _ in range(1200):
                history = await first.fetch_history()
                if history.events[-1].event_type in RUN_CLOSED:
                    return history
                await asyncio.sleep(0.1)
            raise AssertionError("the directive's first run did not close in 120 s")
    finally:
        await env.shutdown()


async def replay_seconds(history: WorkflowHistory, runner: WorkflowRunner) -> float:
    started = time.perf_counter()
    result = await Replayer(workflows=[DirectiveWorkflow], workflow_runner=runner).replay_workflow(
        history
    )
    assert result.replay_failure is None
    return time.perf_counter() - started


async def each_of(histories: list[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


async def replay_all_seconds(histories: list[WorkflowHistory], runner: WorkflowRunner) -> float:
    replayer = Replayer(workflows=WORKFLOWS, workflow_runner=runner)
    started = time.perf_counter()
    results = await replayer.replay_workflows(each_of(histories), raise_on_replay_failure=False)
    assert not any(results.replay_failures.values())
    return time.perf_counter() - started


def report(title: str, seconds: dict[str, list[float]]) -> None:
    sys.stdout.write(f"{title}\n")
    for name, runs in seconds.items():
        shown = ", ".join(f"{s:.2f}" for s in runs)
        median, fastest = statistics.median(runs), min(runs)
        sys.stdout.write(f"  {name}: median {median:.2f} s, fastest {fastest:.2f} s ({shown})\n")


async def main(communes: int, replays: int) -> None:
    runners: dict[str, WorkflowRunner] = {
        "sandboxed (worker.WORKFLOW_RUNNER)": WORKFLOW_RUNNER,
        "workflow modules passed through": SandboxedWorkflowRunner(
            restrictions=WORKFLOW_RUNNER.restrictions.with_passthrough_modules(
                "workflows", "vocabulary"
            )
        ),
    }
    history = await record_history(communes)
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(replays):
        for name, runner in runners.items():
            seconds[name].append(await replay_seconds(history, runner))
    report(f"one {len(history.events)}-event directive history, {replays} replays", seconds)

    recorded = [
        WorkflowHistory.from_json(path.stem, path.read_text())
        for path in sorted(RECORDED.rglob("*.json"))
    ]
    many = recorded * RECORDED_TIMES_OVER
    seconds = {name: [] for name in runners}
    for _ in range(max(1, replays // 3)):
        for name, runner in runners.items():
            seconds[name].append(await replay_all_seconds(many, runner))
    report(f"{len(many)} runs: the {len(recorded)} recorded histories, ten times over", seconds)


if __name__ == "__main__":
    communes = int(sys.argv[1]) if len(sys.argv) > 1 else COUNTRY
    replays = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    asyncio.run(main(communes, replays))
