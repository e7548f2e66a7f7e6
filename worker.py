"""The worker: runs the directive and assignment workflows and every activity.

    python worker.py

Reads its settings from AXIS_* variables (see config.py); several workers may run against the
same Temporal server and database."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.fanout import FanOutActivities
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from config import Settings, get_settings
from db.engine import make_engine
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DirectiveWorkflow

# Database activities run in threads; 102 assignments record at once during a fan-out.
ACTIVITY_THREADS = 64
WORKFLOWS = [DirectiveWorkflow, AssignmentWorkflow]
# The workflow modules are passed through the sandbox instead of re-imported for every workflow
# run: they hold only code, constants and dataclasses (nothing happens at import), and a
# replay of a national directive's history ran 4.8 s sandboxed, 3.7 s passed through.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows")
)

log = logging.getLogger("axis.worker")


def build_worker(
    client: Client,
    engine: Engine,
    task_queue: str,
    public_url: str,
    executor: ThreadPoolExecutor,
    **options: object,
) -> Worker:
    records = RecordActivities(engine)
    notifications = NotificationActivities(engine, Renderer(), public_url)
    fan_out = FanOutActivities(client)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            records.plan_directive,
            records.record_assignment,
            records.record_amendment,
            records.set_directive_status,
            notifications.record_notifications,
            fan_out.start_assignments,
            fan_out.relay_change,
        ],
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
        workflow_runner=WORKFLOW_RUNNER,
        **options,  # type: ignore[arg-type]
    )


async def connect(settings: Settings, attempts: int = 60) -> Client:
    """Connect, waiting for a Temporal server that is still starting."""
    for attempt in range(1, attempts + 1):
        try:
            return await Client.connect(
                settings.resolved_temporal_address, namespace=settings.temporal_namespace
            )
        except RuntimeError:
            if attempt == attempts:
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(client, engine, settings.task_queue, settings.public_url, executor)
        log.info(
            "worker on task queue %s at %s", settings.task_queue, settings.resolved_temporal_address
        )
        async with worker:
            await stop.wait()
            log.info("worker stopping")
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
