"""The benchmark: the product and the raw ceiling, side by side on one Temporal dev server and
one database, each measured in the same run, through the product's real surface (its HTTP API
and the rows it writes).

    make bench                  # full mode
    BENCH_QUICK=1 make bench    # quick mode: about 20 minutes on 2 cores, 14 of them the
                                # reminder lateness (six 2-minute windows and their setups)
    BENCH_DATABASE=postgresql make bench   # a scratch PostgreSQL database instead of SQLite
    BENCH_ONLY=fan_out,reads make bench    # some steps only (each sets up what it needs)
    BENCH_KEEP=/tmp/run1 make bench        # keep the run's databases and logs in an empty folder

Steps: fan_out, national, acknowledgements, reads, lateness, memory, rollup (bench/rollup.py).

Every ratio row is the median of several runs in which the product and the baseline take
turns, after one unmeasured warm-up of each, with the spread beside it (bench/stats.py).
Writes bench/results/latest.json (rows of {"name", "unit", "product", "baseline", "ratio",
"product_min", "product_max", "baseline_min", "baseline_max", "runs", …}) and
bench/results/latest.md (the same as a Markdown table, with the machine, the mode and how busy
the machine was)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from bench import lateness, phone
from bench.bare import BARE_TASK_QUEUE
from bench.machine import Load, OtherProcesses, Snapshot, busy_seconds, describe
from bench.product import API, issue, until_fanned_out
from bench.report import markdown
from bench.say import say
from bench.settle import quiet_since
from bench.stack import (
    ROOT,
    Processes,
    national_codes,
    product_env,
    rss_bytes,
    scratch_database,
    start_api,
    start_temporal,
)
from bench.stats import pct, row, timer
from bench.trivial import TrivialWorkflow
from db.communes import communes_of_province
from db.engine import make_engine

RESULTS = ROOT / "bench" / "results"
COMMUNES = 102
# Directives issued at once when a step sets up several (outside its timed part).
ISSUING_AT_ONCE = 4
# Bare starts in flight at once: more than any fan-out of the province, so its 102 go at once.
STARTING_AT_ONCE = 512
MEMORY_SAMPLE_SECONDS = 3.0


@dataclass
class Mode:
    quick: bool
    fan_out_repeats: int
    ack_repeats: int
    read_repeats: int
    read_requests: int
    read_concurrency: int
    national_communes: int
    national_repeats: int
    open_workflows: int
    memory_samples: int

    @classmethod
    def from_env(cls) -> Mode:
        quick = os.environ.get("BENCH_QUICK") == "1"
        return cls(
            quick=quick,
            fan_out_repeats=3 if quick else 5,
            ack_repeats=3,
            # Even, so that each side has as many early runs as late ones (see `reads`).
            read_repeats=4,
            read_requests=400 if quick else 3000,
            read_concurrency=32,
            national_communes=1000 if quick else 3321,
            # Quick mode's eight minutes leave room for one national run a side.
            national_repeats=1 if quick else 3,
            open_workflows=510 if quick else 10_098,
            memory_samples=3,
        )


@dataclass(frozen=True)
class Timing:
    """One run of one side: its figure (the seconds until its rows were written, its starts
    accepted or its answers back; or a rate from them), and the same until every process was
    quiet again."""

    value: float
    until_idle: float
    # Requests of the run that failed (refused or a server error): not counted in a rate.
    failed: int = 0

    def per_second(self, n: int) -> Timing:
        done = n - self.failed
        return Timing(done / self.value, done / self.until_idle, self.failed)

    def __str__(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.value:.2f} (idle: {self.until_idle:.2f}{failed})"


def timing_rows(
    name: str, unit: str, product: list[Timing], bare: list[Timing], note: str = ""
) -> list[dict[str, Any]]:
    """The row itself, and beneath it the same runs timed until the processes were quiet:
    work a side leaves running behind its answer shows there."""
    say(f"{name}: product {', '.join(map(str, product))}; bare {', '.join(map(str, bare))}")
    failed = sum(t.failed for t in product), sum(t.failed for t in bare)
    if any(failed):
        # Failed requests are left out of the rates: the row says how many there were.
        note = "; ".join(
            [*([note] if note else []), f"failed requests: product {failed[0]}, bare {failed[1]}"]
        )
    main = row(name, unit, [t.value for t in product], [t.value for t in bare], note=note)
    main.update(product_failed=failed[0], baseline_failed=failed[1])
    return [
        main,
        row(
            "  until the workers are idle",
            unit,
            [t.until_idle for t in product],
            [t.until_idle for t in bare],
        ),
    ]


class Bench:
    def __init__(
        self,
        mode: Mode,
        http: httpx.AsyncClient,
        client: Client,
        engine: Engine,
        cpu: Callable[[], float],
    ):
        self.mode = mode
        self.http = http
        self.client = client
        self.engine = engine
        # CPU seconds so far of every process the run started: quiet when it stops growing.
        self.cpu = cpu
        self.admin = ""
        self.leaders: dict[str, str] = {}
        self.codes = [c.code for c in communes_of_province()]
        self.national = national_codes()
        # Fanned-out directives of the province and bare batches no one has acknowledged yet:
        # each acknowledgement run takes fresh ones.
        self.fresh: list[int] = []
        self.fresh_batches: list[list[str]] = []
        # Every directive to the province's communes: reads take one.
        self.province_directives: list[int] = []
        # Open assignments and open bare workflows so far (memory compares the two workers).
        self.product_open = 0
        self.bare_open = 0
        # Both sides have fanned out once, unmeasured: later fan-outs need no warm-up.
        self.warmed = False

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin}"}

    async def idle(self) -> float:
        """Wait until the server, workers and APIs are quiet; returns when the quiet began."""
        return await quiet_since(self.cpu)

    # ---- setup -------------------------------------------------------------------------------

    async def make_leader_tokens(self) -> None:
        if self.leaders:
            return
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

    async def issue_fanned_out(self, count: int, codes: Sequence[str] | None = None) -> list[int]:
        """`count` directives to `codes` (the province), issued a few at a time and waited for
        until fanned out: set-up, not measured."""
        codes = codes or self.codes
        gate = asyncio.Semaphore(ISSUING_AT_ONCE)

        async def one() -> int:
            async with gate:
                return await issue(self.http, self.auth(), codes)

        ids = list(await asyncio.gather(*(one() for _ in range(count))))
        await until_fanned_out(self.engine, ids, count * len(codes), poll=0.2)
        self.product_open += count * len(codes)
        if len(codes) == COMMUNES:
            self.province_directives += ids
        return ids

    async def start_bare(self, count: int) -> tuple[float, list[str]]:
        """`count` bare workflows started at once: the seconds until the server accepted all."""
        batch = f"bare-{uuid.uuid4().hex[:8]}"
        ids = [f"{batch}-{i}" for i in range(count)]
        gate = asyncio.Semaphore(STARTING_AT_ONCE)

        async def one(workflow_id: str) -> None:
            async with gate:
                await self.client.start_workflow(
                    TrivialWorkflow.run, workflow_id, id=workflow_id, task_queue=BARE_TASK_QUEUE
                )

        with timer() as elapsed:
            await asyncio.gather(*(one(i) for i in ids))
        self.bare_open += count
        return elapsed(), ids

    # ---- fan-out -----------------------------------------------------------------------------

    async def product_fan_out(self, codes: Sequence[str], poll: float = 0.02) -> Timing:
        """From POST /directives until every assignment row and issue notice is in, and
        until the processes are quiet again."""
        start = time.perf_counter()
        directive_id = await issue(self.http, self.auth(), codes)
        answered = time.perf_counter() - start
        await until_fanned_out(self.engine, [directive_id], len(codes), poll=poll)
        timing = Timing(time.perf_counter() - start, await self.idle() - start)
        say(
            f"directive {directive_id} to {len(codes)}: answered in {answered:.2f} s, "
            f"rows in {timing.value:.2f} s, quiet after {timing.until_idle:.2f} s"
        )
        self.product_open += len(codes)
        if len(codes) == COMMUNES:
            self.fresh.append(directive_id)
            self.province_directives.append(directive_id)
        return timing

    async def bare_fan_out(self, count: int) -> Timing:
        start = time.perf_counter()
        seconds, ids = await self.start_bare(count)
        timing = Timing(seconds, await self.idle() - start)
        say(f"bare {count}: started in {seconds:.2f} s, quiet after {timing.until_idle:.2f} s")
        if count == COMMUNES:
            self.fresh_batches.append(ids)
        return timing

    async def fan_out(self) -> list[dict[str, Any]]:
        # One of each first, not measured: the first run pays for imports and caches.
        await self.idle()
        await self.product_fan_out(self.codes)
        await self.bare_fan_out(COMMUNES)
        self.warmed = True
        product, bare = [], []
        for _ in range(self.mode.fan_out_repeats):
            product.append(await self.product_fan_out(self.codes))
            bare.append(await self.bare_fan_out(COMMUNES))
        return timing_rows("fan-out to 102 communes", "s", product, bare)

    async def national_fan_out(self) -> list[dict[str, Any]]:
        n = self.mode.national_communes
        codes = self.national[:n]
        await self.idle()
        if not self.warmed:
            # The warm-up is the province's size: a national one would double the step's time.
            await self.product_fan_out(self.codes)
            await self.bare_fan_out(COMMUNES)
        product, bare = [], []
        for _ in range(self.mode.national_repeats):
            product.append(await self.product_fan_out(codes, poll=0.1))
            bare.append(await self.bare_fan_out(n))
        note = f"{n:,} communes vs {n:,} bare starts"
        if self.mode.national_repeats < 3:
            note += f"; {self.mode.national_repeats} run a side in quick mode, to keep it short"
        return timing_rows("national fan-out", "s", product, bare, note)

    # ---- acknowledgements --------------------------------------------------------------------

    async def take_fresh(self, count: int) -> tuple[list[int], list[list[str]]]:
        """`count` fanned-out directives and bare batches no one has acknowledged."""
        missing = count - len(self.fresh)
        if missing > 0:
            self.fresh += await self.issue_fanned_out(missing)
        while len(self.fresh_batches) < count:
            self.fresh_batches.append((await self.start_bare(COMMUNES))[1])
        directives, self.fresh = self.fresh[:count], self.fresh[count:]
        batches, self.fresh_batches = self.fresh_batches[:count], self.fresh_batches[count:]
        return directives, batches

    async def product_acks(self, directive_ids: list[int]) -> Timing:
        """Every commune leader acknowledges each directive at once. A refusal or a server
        error is counted, not retried: the rate counts the acknowledgements that succeeded."""
        failed: list[str] = []
        base = str(self.http.base_url)

        async def one(directive_id: int, code: str) -> None:
            # Each leader's request on a connection of its own, as from 102 phones (bench/phone.py).
            status, body = await phone.post(
                base,
                f"{API}/directives/{directive_id}/assignments/{code}/acknowledge",
                self.auth(self.leaders[code]),
            )
            if status != 200 or json.loads(body).get("already_acknowledged"):
                failed.append(f"{status} {body[:200]!r}")

        start = time.perf_counter()
        await asyncio.gather(*(one(d, c) for d in directive_ids for c in self.codes))
        done = time.perf_counter() - start
        if failed:
            say(f"{len(failed)} acknowledgements failed, the first: {failed[0]}")
        return Timing(done, await self.idle() - start, len(failed))

    async def bare_acks(self, batches: list[list[str]]) -> Timing:
        failed: list[str] = []

        async def one(workflow_id: str) -> None:
            handle = self.client.get_workflow_handle(workflow_id)
            try:
                if await handle.execute_update(TrivialWorkflow.acknowledge, "bench"):
                    failed.append(f"{workflow_id} was acknowledged twice")
            except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as e:
                failed.append(f"{type(e).__name__}: {e}")

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for batch in batches for i in batch))
        done = time.perf_counter() - start
        if failed:
            say(f"{len(failed)} bare updates failed, the first: {failed[0]}")
        return Timing(done, await self.idle() - start, len(failed))

    async def ack_runs(self, per_run: int, warm_up: bool) -> tuple[list[Timing], list[Timing]]:
        """Acknowledgements per second, product and bare in turn, each run on fresh ones."""
        runs = self.mode.ack_repeats + (1 if warm_up else 0)
        directives, batches = await self.take_fresh(runs * per_run)
        n = per_run * COMMUNES
        product, bare = [], []
        await self.idle()
        for i in range(runs):
            part = slice(i * per_run, (i + 1) * per_run)
            p = (await self.product_acks(directives[part])).per_second(n)
            b = (await self.bare_acks(batches[part])).per_second(n)
            say(f"acknowledgements of {n}: product {p}, bare {b}")
            if warm_up and i == 0:
                continue
            product.append(p)
            bare.append(b)
        return product, bare

    async def acknowledgements(self) -> list[dict[str, Any]]:
        await self.make_leader_tokens()
        product, bare = await self.ack_runs(1, warm_up=True)
        rows = timing_rows("acknowledgements, 102 concurrent", "per s", product, bare)
        if self.mode.quick:
            return rows
        # The 102s just before are this one's warm-up.
        product, bare = await self.ack_runs(10, warm_up=False)
        note = "warmed up by the 102 row's runs"
        rows += timing_rows("acknowledgements, 1,020 concurrent", "per s", product, bare, note)
        return rows

    # ---- reads -------------------------------------------------------------------------------

    async def load(
        self, paths: list[str], headers: dict[str, str], total: int
    ) -> tuple[float, list[float]]:
        """`total` GETs of `paths` in turn by the mode's concurrent users, each on a connection
        of its own (a client of its own, opened before the clock starts), as each person's
        browser or phone keeps one. Through one shared client's pool, the same code's runs
        spread over 86-251 req/s; on a connection each, over 131-164 (2026-12-06)."""
        latencies: list[float] = []
        queue = iter(range(total))

        async def user(http: httpx.AsyncClient) -> None:
            for i in queue:
                start = time.perf_counter()
                answer = await http.get(paths[i % len(paths)], headers=headers)
                latencies.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {paths[i % len(paths)]}: {answer.status_code}")

        async with AsyncExitStack() as stack:
            users = [
                await stack.enter_async_context(httpx.AsyncClient(timeout=180))
                for _ in range(self.mode.read_concurrency)
            ]
            # Each user's connection opened, as a returning reader's already is.
            await asyncio.gather(*(http.get(paths[0], headers=headers) for http in users))
            await self.idle()
            with timer() as elapsed:
                await asyncio.gather(*(user(http) for http in users))
        return total / elapsed(), latencies

    async def reads(self, product_base: str, bare_base: str) -> list[dict[str, Any]]:
        if not self.province_directives:
            await self.issue_fanned_out(1)
        directive_id = self.province_directives[0]
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
        total = self.mode.read_requests
        await self.load(product_paths, self.auth(), total)
        await self.load(bare_paths, {}, total)
        figures: dict[str, list[float]] = {
            k: [] for k in ("p_rate", "b_rate", "p_50", "b_50", "p_99", "b_99")
        }
        sides: tuple[tuple[str, list[str], dict[str, str]], ...] = (
            ("p", product_paths, self.auth()),
            ("b", bare_paths, {}),
        )
        for repeat in range(self.mode.read_repeats):
            # Product, bare, bare, product, …: a run lasts 2-3 s, and a drift from run to run
            # (through the shared client of before, each side's third run was 10-60% faster
            # than its first) would favour the side always going second.
            for side, paths, headers in sides if repeat % 2 == 0 else sides[::-1]:
                rate, latencies = await self.load(paths, headers, total)
                figures[f"{side}_rate"].append(rate)
                figures[f"{side}_50"].append(pct(latencies, 50) * 1000)
                figures[f"{side}_99"].append(pct(latencies, 99) * 1000)
        say(f"reads: {figures}")
        c = self.mode.read_concurrency
        return [
            row(f"GET directive + assignments, {c} concurrent", "req/s", figures["p_rate"],
                figures["b_rate"], note=f"{total} requests a run"),
            row("  latency p50", "ms", figures["p_50"], figures["b_50"]),
            row("  latency p99", "ms", figures["p_99"], figures["b_99"]),
        ]  # fmt: skip

    # ---- reminder lateness -------------------------------------------------------------------

    async def lateness(self) -> list[dict[str, Any]]:
        await self.idle()
        rows, product, bare = await lateness.measure(
            self.http, self.auth(), self.client, self.engine, self.codes, self.mode.quick, self.idle
        )
        self.product_open += product
        self.bare_open += bare
        return rows

    # ---- memory ------------------------------------------------------------------------------

    async def memory(self, product_worker: int, bare_worker: int) -> list[dict[str, Any]]:
        """Both workers' RSS once each holds as many open assignments (bare: workflows), at
        least the mode's number."""
        target = max(self.mode.open_workflows, self.product_open, self.bare_open)
        while self.product_open < target:
            need = target - self.product_open
            count = max(1, min(need // COMMUNES, 20))
            codes = self.codes if need >= COMMUNES else self.codes[:need]
            await self.issue_fanned_out(count, codes)
        if self.bare_open < self.product_open:
            await self.start_bare(self.product_open - self.bare_open)
        # Both workers done with the first tasks of what was just started.
        await self.idle()
        product, bare = [], []
        for i in range(self.mode.memory_samples):
            if i:
                await asyncio.sleep(MEMORY_SAMPLE_SECONDS)
            product.append(rss_bytes(product_worker) / 2**20)
            bare.append(rss_bytes(bare_worker) / 2**20)
        note = (
            f"{self.product_open:,} open assignments vs {self.bare_open:,} bare workflows; "
            f"{self.mode.memory_samples} samples {MEMORY_SAMPLE_SECONDS:.0f} s apart"
        )
        return [row("worker RSS", "MiB", product, bare, note=note)]


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


STEPS = ("fan_out", "national", "acknowledgements", "reads", "lateness", "memory")


def chosen_steps() -> list[str]:
    """BENCH_ONLY=fan_out,reads runs a part; each step sets up what it needs."""
    only = os.environ.get("BENCH_ONLY")
    if not only:
        return [*STEPS, "rollup"]
    chosen = [s.strip() for s in only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - {*STEPS, "rollup"})
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown steps {unknown}; known: {[*STEPS, 'rollup']}")
    return chosen


async def measure(
    mode: Mode, backend: str, folder: Path, logs: Path, chosen: list[str]
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The rows, and the CPU seconds other processes used during each step."""
    processes = Processes(logs)
    others: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
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
                bench = Bench(mode, http, client, engine, lambda: sum(processes.cpu().values()))
                bench.admin = admin
                steps: dict[str, Callable[[], Awaitable[list[dict[str, Any]]]]] = {
                    "fan_out": bench.fan_out,
                    "national": bench.national_fan_out,
                    "acknowledgements": bench.acknowledgements,
                    "reads": lambda: bench.reads(product_base, bare_base),
                    "lateness": bench.lateness,
                    "memory": lambda: bench.memory(worker.pid, bare_worker.pid),
                }
                for name in STEPS:
                    if name not in chosen:
                        continue
                    before, busy, own = processes.cpu(), busy_seconds(), _own_cpu()
                    with timer() as took:
                        rows += await steps[name]()
                    spent = {k: v - before.get(k, 0) for k, v in processes.cpu().items()}
                    ours = sum(spent.values()) + _own_cpu() - own
                    others[name] = max(0.0, busy_seconds() - busy - ours)
                    used = {k: round(v, 1) for k, v in spent.items()}
                    say(
                        f"{name} done in {took():.1f} s; CPU seconds per process: {used}; "
                        f"other processes: {others[name]:.1f}"
                    )
            engine.dispose()
    finally:
        processes.stop_all()
    return rows, others


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _scratch_folder() -> contextlib.AbstractContextManager[str]:
    """The run's databases and logs: a temporary folder, or BENCH_KEEP's, kept after the run so
    that the Temporal server's histories can be read afterwards (`python -m
    bench.lateness_parts <folder>`)."""
    keep = os.environ.get("BENCH_KEEP")
    if not keep:
        return tempfile.TemporaryDirectory(prefix="axis-bench-")
    Path(keep).mkdir(parents=True, exist_ok=True)
    if any(Path(keep).iterdir()):
        raise SystemExit(f"BENCH_KEEP: {keep} is not empty; a run starts from nothing")
    return contextlib.nullcontext(keep)


def main() -> int:
    mode = Mode.from_env()
    backend = os.environ.get("BENCH_DATABASE", "sqlite")
    chosen = chosen_steps()
    before = Snapshot()
    started = time.perf_counter()
    with OtherProcesses() as watched:
        with _scratch_folder() as folder:
            logs = Path(os.environ.get("BENCH_LOGS", folder))
            logs.mkdir(parents=True, exist_ok=True)
            rows, others = asyncio.run(measure(mode, backend, Path(folder), logs, chosen))
        if "rollup" in chosen:
            with timer() as rolled:
                rows += roll_up_rows(mode.quick)
            say(f"rollup done in {rolled():.1f} s")
    took = time.perf_counter() - started
    load = Load.between(before, Snapshot(), watched)
    per_step = ", ".join(f"{k} {v:.0f} s" for k, v in others.items())
    header = "\n".join(
        [
            f"{'Quick' if mode.quick else 'Full'} run (BENCH_QUICK={int(mode.quick)}), "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {took:.0f} s"
            + ("" if len(chosen) == len(STEPS) + 1 else f", steps {','.join(chosen)}")
            + ".",
            "",
            f"- Machine: {describe()}.",
            f"- Database: {'SQLite file' if backend == 'sqlite' else 'PostgreSQL'} for the "
            "product's data; Temporal dev server (SQLite file); both on this machine.",
            f"- Load: {load.describe()}. PostgreSQL's own processes count as other ones, "
            "those serving the bench included (the roll-up rows always use PostgreSQL).",
            f"- Other processes' CPU seconds during each step: {per_step or 'none'}.",
        ]
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    table = markdown(rows, header)
    (RESULTS / "latest.md").write_text(table)
    sys.stdout.write("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
