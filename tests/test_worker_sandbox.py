"""Workflows run sandboxed, in production and in the tests alike: the worker's runner re-imports
every workflow module for each run and fails a workflow task that makes a call replay could not
repeat. Only third-party modules are passed through it, never the product's own."""

from __future__ import annotations

import asyncio
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import PUBLIC_URL
from tests.sandbox_probe import ReadsTheWallClock
from worker import WORKFLOW_RUNNER, WORKFLOWS, build_worker

ROOT = Path(__file__).parents[1]


def first_party() -> set[str]:
    """The product's top-level packages and modules, tests and tools included."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    modules = {p.stem for p in ROOT.glob("*.py")}
    return packages | modules


def test_the_runner_passes_through_no_package_of_the_product() -> None:
    restrictions = WORKFLOW_RUNNER.restrictions
    ours = first_party()
    assert {"workflows", "vocabulary", "activities", "worker", "db"} <= ours
    assert not restrictions.passthrough_all_modules
    passed = {name.split(".")[0] for name in restrictions.passthrough_modules}
    assert sorted(passed & ours) == []
    # What is passed through beyond the standard library is the SDK's and pydantic's, as the
    # SDK does by default: the workflow modules import no other third-party module.
    assert sorted(passed - set(sys.stdlib_module_names)) == [
        "annotated_types",
        "google",
        "grpc",
        "importlib_metadata",
        "nexusrpc",
        "pkg_resources",
        "pydantic",
        "pydantic_core",
        "temporalio",
        "typing_extensions",
    ]
    # Every workflow the worker runs lives in a module the sandbox imports afresh.
    assert {w.__module__.split(".")[0] for w in WORKFLOWS} == {"workflows"}


async def test_a_workflow_that_reads_the_wall_clock_fails_its_task(
    time_env: WorkflowEnvironment,
) -> None:
    task_queue = f"sandbox-{uuid.uuid4().hex[:12]}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[ReadsTheWallClock],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        handle = await time_env.client.start_workflow(
            ReadsTheWallClock.run, id=f"probe-{task_queue}", task_queue=task_queue
        )
        failed = None
        async with asyncio.timeout(30):
            while failed is None:
                history = await handle.fetch_history()
                failed = next(
                    (
                        e
                        for e in history.events
                        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                    ),
                    None,
                )
                await asyncio.sleep(0.05)
        await handle.terminate()
    message = failed.workflow_task_failed_event_attributes.failure.message
    assert message.startswith("Cannot access datetime.datetime.now")
    # A task failure, retried until the code is fixed: the workflow itself never completed.
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED not in [
        e.event_type for e in history.events
    ]


async def test_the_product_workers_use_the_runner(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    async with build_worker(time_env.client, engine, task_queue, PUBLIC_URL, executor) as worker:
        assert worker.config()["workflow_runner"] is WORKFLOW_RUNNER
