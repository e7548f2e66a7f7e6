"""Workflows run sandboxed, in production and in the tests alike: the worker's runner re-imports
every workflow module for each run (executing one shared copy of its code) and fails a workflow
task that makes a call replay could not repeat. Only third-party modules are passed through it,
never the product's own."""

from __future__ import annotations

import asyncio
import importlib
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from sandbox_code import SharedCodeFinder
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


@pytest.mark.parametrize("code", ["imported", "shared"])
async def test_a_workflow_that_reads_the_wall_clock_fails_its_task(
    time_env: WorkflowEnvironment, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether its run unmarshals its module's code afresh or executes the one copy
    sandbox_code.py keeps, the sandbox restricts what the run's module reaches."""
    if code == "shared":
        monkeypatch.setattr(sys, "meta_path", [SharedCodeFinder(["tests"]), *sys.meta_path])
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


def _fresh_import(name: str) -> ModuleType:
    """The module imported as the sandbox imports it for a workflow run: anew."""
    kept = sys.modules.pop(name)
    try:
        return importlib.import_module(name)
    finally:
        sys.modules[name] = kept


def test_each_run_has_its_own_module_made_from_one_copy_of_its_code() -> None:
    first, second = (_fresh_import("workflows.assignment") for _ in range(2))
    assert first is not second
    assert first.AssignmentWorkflow is not second.AssignmentWorkflow
    assert first.AssignmentWorkflow.run.__code__ is second.AssignmentWorkflow.run.__code__
    assert first.__spec__ is not None
    assert type(first.__spec__.loader).__name__ == "_SharedCodeLoader"


async def test_the_product_workers_use_the_runner(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    async with build_worker(time_env.client, engine, task_queue, PUBLIC_URL, executor) as worker:
        assert worker.config()["workflow_runner"] is WORKFLOW_RUNNER
