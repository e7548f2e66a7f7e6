"""The benchmark: the product and the raw ceiling, side by side on one Temporal dev server and
one database, each measured in the same run.

    make bench                  # full mode
    BENCH_QUICK=1 make bench    # quick mode: under five minutes on 2 cores
    BENCH_DATABASE=postgresql make bench   # a scratch PostgreSQL database instead of SQLite

Writes bench/results/latest.json (rows of {"name", "unit", "product", "baseline", "ratio"})
and bench/results/latest.md (the same as a Markdown table, with the machine it ran on)."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from bench.bare import BARE_TASK_QUEUE
from bench.stack import (
    ROOT,
    Processes,
    product_env,
    rss_bytes,
    scratch_database,
    start_api,
    start_temporal,
)
from bench.trivial import TrivialWorkflow
from db.communes import communes_of_province
from db.engine import make_engine
from db.models import Notification
from vocabulary.directives import DirectiveStatus, directive_workflow_id
from workflows.directive import DirectiveWorkflow

RESULTS = ROOT / "bench" / "results"
API = "/api/v1"
COMMUNES = 102
POLL_SECONDS = 0.02
# The goals each row is held to: (direction, value) on the ratio.
GOALS: dict[str, tuple[str, float]] = {
    "fan-out to 102 communes": ("<=", 1.5),
    "acknowledgements, 102 concurrent": (">=", 0.5),
    "acknowledgements, 1,020 concurrent": (">=", 0.5),
}


@dataclass
class Mode:
    quick: bool
    fan_out_repeats: int
    read_requests: int
    read_concurrency: int
    open_workflows: int

    @classmethod
    def from_env(cls) -> Mode:
        quick = os.environ.get("BENCH_QUICK") == "1"
        return cls(
            quick=quick,
            fan_out_repeats=3 if quick else 5,
            read_requests=600 if quick else 3000,
            read_concurrency=32,
            open_workflows=510 if quick else 10_098,
        )


def row(name: str, unit: str, product: float, baseline: float | None) -> dict[str, Any]:
    ratio = round(product / baseline, 2) if baseline else None
    return {
        "name": name,
        "unit": unit,
        "product": round(product, 3),
        "baseline": round(baseline, 3) if baseline is not None else None,
        "ratio": ratio,
    }


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


class Bench:
    def __init__(self, mode: Mode, http: httpx.AsyncClient, client: Client, engine: Engine):
        self.mode = mode
        self.http = http
        self.client = client
        self.engine = engine
        self.admin = ""
        self.leaders: dict[str, str] = {}
        self.codes = [c.code for c in communes_of_province()]
        self.directives: list[int] = []
        self.bare_batches: list[list[str]] = []

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin}"}

    # ---- setup -------------------------------------------------------------------------------

    async def make_leader_tokens(self) -> None:
        gate = asyncio.Semaphore(16)

        async def one(code: str) -> None:
            async with gate:
                answer = await self.http.post(
                    f"{API}/tokens",
                    headers=self.auth(),
                    json={"role": "commune_leader", "commune_code": code, "name": f"bench {code}"},
                )
                answer.raise_for_status()
                self.leaders[code] = answer.json()["token"]

        await asyncio.gather(*(one(c) for c in self.codes))

    # ---- fan-out -----------------------------------------------------------------------------

    def issued_count(self, directive_id: int) -> int:
        with Session(self.engine) as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.directive_id == directive_id, Notification.kind == "issued")
                )
                or 0
            )

    async def issue(self) -> int:
        deadline = datetime.now(UTC) + timedelta(days=30)
        answer = await self.http.post(
            f"{API}/directives",
            headers=self.auth(),
            json={
                "title": f"Benchmark {uuid.uuid4().hex[:6]}",
                "body": "Mỗi xã, phường gửi báo cáo kết quả kèm minh chứng.",
                "deadline": deadline.isoformat(),
            },
        )
        if answer.status_code != 201:
            raise RuntimeError(f"issuing failed: {answer.status_code} {answer.text}")
        directive_id: int = answer.json()["id"]
        self.directives.append(directive_id)
        return directive_id

    async def fanned_out(self, directive_id: int) -> None:
        """All assignment workflows started and all issue notices recorded."""
        handle = self.client.get_workflow_handle(directive_workflow_id(directive_id))
        started = False
        while True:
            if not started:
                try:
                    progress = await handle.query(DirectiveWorkflow.progress)
                    started = progress.status != DirectiveStatus.ISSUING
                except RPCError:
                    # A query times out while the worker is saturated: ask again.
                    pass
            if started and await asyncio.to_thread(self.issued_count, directive_id) >= COMMUNES:
                return
            await asyncio.sleep(POLL_SECONDS)

    async def product_fan_out(self) -> float:
        with timer() as elapsed:
            directive_id = await self.issue()
            answered = elapsed()
            await self.fanned_out(directive_id)
        say(
            f"directive {directive_id}: answered in {answered:.2f} s, "
            f"fanned out in {elapsed():.2f} s"
        )
        return elapsed()

    async def bare_fan_out(self) -> float:
        batch = f"bare-{uuid.uuid4().hex[:8]}"
        ids = [f"{batch}-{code}" for code in self.codes]
        with timer() as elapsed:
            await asyncio.gather(
                *(
                    self.client.start_workflow(
                        TrivialWorkflow.run, i, id=i, task_queue=BARE_TASK_QUEUE
                    )
                    for i in ids
                )
            )
        self.bare_batches.append(ids)
        return elapsed()

    async def fan_out(self) -> list[dict[str, Any]]:
        # One of each first, not measured: the first run pays for imports and caches.
        await self.product_fan_out()
        await self.bare_fan_out()
        product, bare = [], []
        for _ in range(self.mode.fan_out_repeats):
            product.append(await self.product_fan_out())
            bare.append(await self.bare_fan_out())
        say(f"fan-out product {product} s, bare {bare} s")
        return [
            row(
                "fan-out to 102 communes", "s (median)", statistics.median(product),
                statistics.median(bare),
            ),
        ]  # fmt: skip

    # ---- acknowledgements --------------------------------------------------------------------

    async def product_acks(self, directive_ids: list[int]) -> float:
        async def one(directive_id: int, code: str) -> None:
            answer = await self.http.post(
                f"{API}/directives/{directive_id}/assignments/{code}/acknowledge",
                headers=self.auth(self.leaders[code]),
            )
            if answer.status_code != 200 or answer.json()["already_acknowledged"]:
                raise RuntimeError(f"acknowledgement failed: {answer.status_code} {answer.text}")

        with timer() as elapsed:
            await asyncio.gather(*(one(d, c) for d in directive_ids for c in self.codes))
        return elapsed()

    async def bare_acks(self, batches: list[list[str]]) -> float:
        async def one(workflow_id: str) -> None:
            handle = self.client.get_workflow_handle(workflow_id)
            if await handle.execute_update(TrivialWorkflow.acknowledge, "bench"):
                raise RuntimeError(f"{workflow_id} was acknowledged twice")

        with timer() as elapsed:
            await asyncio.gather(*(one(i) for batch in batches for i in batch))
        return elapsed()

    async def acknowledgements(self) -> list[dict[str, Any]]:
        rows = []
        # Warm-up on the directive and batch left from the fan-out's warm-up.
        await self.product_acks(self.directives[:1])
        await self.bare_acks(self.bare_batches[:1])
        product = await self.product_acks(self.directives[1:2])
        bare = await self.bare_acks(self.bare_batches[1:2])
        rows.append(
            row("acknowledgements, 102 concurrent", "per s", COMMUNES / product, COMMUNES / bare)
        )
        if self.mode.quick:
            # 1,020 need ten more fan-outs first: the full mode only.
            return rows
        while len(self.directives) < 12:
            await self.issue_many(12 - len(self.directives))
        while len(self.bare_batches) < 12:
            await self.bare_fan_out()
        await asyncio.gather(*(self.fanned_out(d) for d in self.directives[2:12]))
        product = await self.product_acks(self.directives[2:12])
        bare = await self.bare_acks(self.bare_batches[2:12])
        n = 10 * COMMUNES
        rows.append(row(f"acknowledgements, {n:,} concurrent", "per s", n / product, n / bare))
        say(f"acknowledgements: {rows}")
        return rows

    async def issue_many(self, count: int, at_once: int = 4) -> None:
        gate = asyncio.Semaphore(at_once)

        async def one() -> None:
            async with gate:
                await self.issue()

        await asyncio.gather(*(one() for _ in range(count)))

    # ---- reads -------------------------------------------------------------------------------

    async def load(self, paths: list[str], headers: dict[str, str]) -> tuple[float, list[float]]:
        total = self.mode.read_requests
        latencies: list[float] = []
        queue = iter(range(total))

        async def user() -> None:
            for i in queue:
                start = time.perf_counter()
                answer = await self.http.get(paths[i % len(paths)], headers=headers)
                latencies.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {paths[i % len(paths)]}: {answer.status_code}")

        with timer() as elapsed:
            await asyncio.gather(*(user() for _ in range(self.mode.read_concurrency)))
        return total / elapsed(), latencies

    async def reads(self, product_base: str, bare_base: str) -> list[dict[str, Any]]:
        directive_id = self.directives[1]
        product_paths = [
            f"{product_base}{API}/directives/{directive_id}",
            f"{product_base}{API}/directives/{directive_id}/assignments",
        ]
        bare_paths = [
            f"{bare_base}/bare/directives/{directive_id}",
            f"{bare_base}/bare/directives/{directive_id}/assignments",
        ]
        sizes = [
            len((await self.http.get(p, headers=self.auth())).content)
            for p in (*product_paths, *bare_paths)
        ]
        say(f"response sizes (bytes): product {sizes[:2]}, bare {sizes[2:]}")
        product_rate, product_latency = await self.load(product_paths, self.auth())
        bare_rate, bare_latency = await self.load(bare_paths, {})
        c = self.mode.read_concurrency
        return [
            row(f"GET directive + assignments, {c} concurrent", "req/s", product_rate, bare_rate),
            row("  latency p50", "ms", pct(product_latency, 50), pct(bare_latency, 50)),
            row("  latency p99", "ms", pct(product_latency, 99), pct(bare_latency, 99)),
        ]

    # ---- memory ------------------------------------------------------------------------------

    async def memory(self, product_worker: int, bare_worker: int) -> list[dict[str, Any]]:
        target = self.mode.open_workflows
        missing = -(-(target - len(self.directives) * COMMUNES) // COMMUNES)
        if missing > 0:
            await self.issue_many(missing)
        await asyncio.gather(*(self.fanned_out(d) for d in self.directives))
        while len(self.bare_batches) * COMMUNES < len(self.directives) * COMMUNES:
            await self.bare_fan_out()
        opened = len(self.directives) * COMMUNES
        # Let both workers finish the first tasks of what was just started.
        await asyncio.sleep(3)
        return [
            row(
                f"worker RSS, {opened:,} open workflows", "MiB",
                rss_bytes(product_worker) / 2**20, rss_bytes(bare_worker) / 2**20,
            )
        ]  # fmt: skip


def pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index] * 1000


def say(message: str) -> None:
    sys.stdout.write(f"bench: {message}\n")
    sys.stdout.flush()


async def wait_for_pollers(client: Client, task_queue: str) -> None:
    for _ in range(600):
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=task_queue)
            )
        )
        if answer.pollers:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no worker polls {task_queue}")


def roll_up_rows(quick: bool) -> list[dict[str, Any]]:
    """The scoring roll-up's own measurement, when the product has one."""
    try:
        module = importlib.import_module("bench.rollup")
    except ModuleNotFoundError as e:
        if e.name != "bench.rollup":
            raise
        say("bench/rollup.py is not there: no roll-up rows")
        return []
    rows: list[dict[str, Any]] = module.run(quick)
    return rows


async def measure(mode: Mode, backend: str, folder: Path, logs: Path) -> list[dict[str, Any]]:
    processes = Processes(logs)
    try:
        temporal, _server = start_temporal(processes, folder)
        with scratch_database(backend, folder) as database_url:
            admin = f"bench-{uuid.uuid4().hex}"
            env = product_env(database_url, temporal, folder, admin)
            worker = processes.start([sys.executable, "worker.py"], env)
            bare_worker = processes.start([sys.executable, "-m", "bench.bare", "worker"], env)
            product_base, _ = start_api(processes, env)
            bare_base, _ = start_api(processes, env, "bench.bare:create_app()")
            client = await Client.connect(temporal)
            await wait_for_pollers(client, env["AXIS_TASK_QUEUE"])
            await wait_for_pollers(client, BARE_TASK_QUEUE)
            engine = make_engine(database_url)
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
            async with httpx.AsyncClient(base_url=product_base, timeout=180, limits=limits) as http:
                bench = Bench(mode, http, client, engine)
                bench.admin = admin
                await bench.make_leader_tokens()
                rows: list[dict[str, Any]] = []
                steps: dict[str, Callable[[], Awaitable[list[dict[str, Any]]]]] = {
                    "fan_out": bench.fan_out,
                    "acknowledgements": bench.acknowledgements,
                    "reads": lambda: bench.reads(product_base, bare_base),
                    "memory": lambda: bench.memory(worker.pid, bare_worker.pid),
                }
                # BENCH_ONLY=fan_out,reads runs a part (the later steps need the earlier ones).
                only = os.environ.get("BENCH_ONLY")
                chosen = only.split(",") if only else list(steps)
                for name, step in steps.items():
                    if name not in chosen:
                        continue
                    before = processes.cpu()
                    with timer() as took:
                        rows += await step()
                    used = {k: round(v - before.get(k, 0), 1) for k, v in processes.cpu().items()}
                    say(f"{name} done in {took():.1f} s; CPU seconds per process: {used}")
            engine.dispose()
    finally:
        processes.stop_all()
    return rows


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def verdict(r: dict[str, Any]) -> str:
    goal = GOALS.get(r["name"])
    if goal is None or r["ratio"] is None:
        return ""
    op, value = goal
    met = r["ratio"] <= value if op == "<=" else r["ratio"] >= value
    return f"{op} {value}: {'met' if met else 'MISSED'}"


def markdown(rows: list[dict[str, Any]], header: str) -> str:
    lines = [
        header,
        "",
        "| measurement | unit | product | baseline | ratio | goal |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        cells = [r["name"], r["unit"], r["product"], r["baseline"], r["ratio"], verdict(r)]
        lines.append("| " + " | ".join("—" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    mode = Mode.from_env()
    backend = os.environ.get("BENCH_DATABASE", "sqlite")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="axis-bench-") as folder:
        logs = Path(os.environ.get("BENCH_LOGS", folder))
        logs.mkdir(parents=True, exist_ok=True)
        rows = asyncio.run(measure(mode, backend, Path(folder), logs))
    rows += roll_up_rows(mode.quick)
    took = time.perf_counter() - started
    header = (
        f"{'Quick' if mode.quick else 'Full'} run, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{took:.0f} s; {machine()}; Temporal dev server (SQLite file) and "
        f"{'SQLite file' if backend == 'sqlite' else 'PostgreSQL'} for the product's data."
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    table = markdown(rows, header)
    (RESULTS / "latest.md").write_text(table)
    sys.stdout.write("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
