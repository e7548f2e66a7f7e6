"""A worker started with AXIS_WORKER_METRICS_PORT serves the Temporal SDK's metrics and
axis_worker_up on that port: `python worker.py` as production runs it, against the dev server,
running a directive the API issues on the worker's task queue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from app import create_app
from config import Settings
from tests.api.test_directives_api import eventually, issue, opened
from tests.api.test_health_and_recovery import closed_port
from tests.conftest import PUBLIC_URL, ApiClient, temporal_address
from worker import serve_worker_metrics

ROOT = Path(__file__).resolve().parent.parent
# What an operator's dashboard and alerts read from a worker: latencies, failures,
# schedule-to-start, the sticky cache, free slots and polls.
SDK_FAMILIES = {
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_workflow_task_execution_latency",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_sticky_cache_size",
    "temporal_worker_task_slots_available",
    "temporal_workflow_task_queue_poll_succeed",
}


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        family.name: [(dict(s.labels), s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


@contextmanager
def worker_process(settings: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **settings}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@asynccontextmanager
async def api_without_worker(
    local_env: WorkflowEnvironment, database_url: str, task_queue: str
) -> AsyncIterator[ApiClient]:
    """The API on a task queue only the worker process serves."""
    admin = f"admin-{uuid.uuid4().hex}"
    settings = Settings(
        database_url=database_url,
        temporal_address=temporal_address(local_env),
        task_queue=task_queue,
        admin_token=admin,
        public_url=PUBLIC_URL,
        rate_count_namespace=task_queue,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://axis.test", timeout=60
        ) as http,
    ):
        yield ApiClient(http, admin, local_env.client)


async def test_a_worker_with_a_metrics_port_serves_the_sdk_metrics_and_its_own(
    local_env: WorkflowEnvironment, database_url: str, task_queue: str, tmp_path: Path
) -> None:
    port = port_of(closed_port())
    url = f"http://127.0.0.1:{port}/metrics"
    settings = {
        "AXIS_DATABASE_URL": database_url,
        "AXIS_TEMPORAL_ADDRESS": temporal_address(local_env),
        "AXIS_TASK_QUEUE": task_queue,
        "AXIS_PUBLIC_URL": PUBLIC_URL,
        "AXIS_WORKER_METRICS_PORT": str(port),
    }
    log = tmp_path / "worker.log"
    async with httpx.AsyncClient(timeout=5) as http:

        async def scrape() -> dict[str, list[tuple[dict[str, str], float]]]:
            try:
                answer = await http.get(url)
            except httpx.TransportError as e:
                raise AssertionError(f"not serving yet: {e!r}; log: {log.read_text()}") from e
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
            return families(answer.text)

        with worker_process(settings, log) as process:
            await eventually(scrape, seconds=60)
            async with api_without_worker(local_env, database_url, task_queue) as api:
                directive = await issue(api, ["24121", "24133"])
                # The directive and its two assignments ran on the worker process.
                await opened(api, directive["id"])

            async def everything() -> dict[str, list[tuple[dict[str, str], float]]]:
                found = await scrape()
                missing = SDK_FAMILIES - set(found)
                assert not missing, f"missing {sorted(missing)}"
                return found

            found = await eventually(everything)
            assert process.poll() is None, log.read_text()
    assert found["axis_worker_up"] == [({}, 1.0)]
    # The task queue is a label; durations are in seconds, as Prometheus's base unit.
    queues = {labels.get("task_queue") for labels, _ in found["temporal_sticky_cache_size"]}
    assert queues <= {None, task_queue, f"{task_queue}-delivery"}, queues
    bounds = {
        float(labels["le"])
        for labels, _ in found["temporal_workflow_task_execution_latency"]
        if "le" in labels
    }
    assert min(bounds) < 0.1, sorted(bounds)
    # The worker stopped on SIGTERM, and its port with it.
    assert process.returncode == 0, log.read_text()
    async with httpx.AsyncClient(timeout=2) as http:
        try:
            await http.get(url)
            raise AssertionError("the port still answers after the worker stopped")
        except httpx.TransportError:
            pass


async def test_the_worker_metrics_still_answer_when_the_sdk_endpoint_does_not() -> None:
    port = port_of(closed_port())
    server = serve_worker_metrics(port, f"http://{closed_port()}/metrics")
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            answer = await http.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        await asyncio.to_thread(server.shutdown)
        server.server_close()
    assert answer.status_code == 200
    assert families(answer.text)["axis_worker_up"] == [({}, 1.0)]
