"""Reminder lateness: how long after its instant a reminder's row is written, for many open
assignments whose reminders fall due spread evenly over a window (quick: 1,000 over two
minutes; full: 10,000 over ten minutes), against bare workflows that sleep to the same instants
and write one row.

Product: directives issued through the API, each to GROUP communes, with one reminder a day
before a deadline set so that the reminder falls on the directive's instant (no acknowledge-by
reminder, no escalation, the deadline itself a day later: nothing else fires in the window).
Lateness = notifications.created_at of the reminder minus its instant.
Bare: ReminderWorkflow (bench/reminder.py), GROUP to an instant, the same instants relative to
its own window; lateness = bench_reminders.recorded_at minus the instant.

The two sides take turns, each with its window to itself: a product batch, a bare batch, and
so on, RUNS of each; a row's figure is the median of its side's batches (each batch's own p50,
p99 or max), with their spread. Each batch's setup (issuing, starting) ends before its first
instant, and each batch is fresh: the open assignments and workflows of earlier batches wait
for reminders days away."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.client import Client

from bench.bare import BARE_METADATA, BARE_TASK_QUEUE, BENCH_REMINDERS
from bench.product import issue, until_fanned_out
from bench.reminder import ReminderInput, ReminderWorkflow
from bench.say import say
from bench.stats import pct, row
from db.models import Notification

# Communes of one directive: their reminders share an instant. Ten per directive spreads the
# instants finely (1.2 s apart in quick mode) without a directive per commune.
GROUP = 10
# The one reminder comes this long before the deadline.
OFFSET = timedelta(days=1)
# After the last instant, how long to wait for rows still missing before counting them late
# by at least that much.
GRACE_SECONDS = 120.0
# Slices of the window whose own p99 the log and the JSON show.
SLICES = 6
# Issued (or started) at once while setting up.
ISSUING_AT_ONCE = 4
STARTING_AT_ONCE = 128
# Batches per side, taking turns: a ratio is the median of at least three runs a side.
RUNS = 3
# The quiet the setup of a batch should leave before its first instant.
MARGIN_SECONDS = 20.0
# The probes that size each side's setup time: directives of GROUP, and bare starts.
PROBE_DIRECTIVES = 8
PROBE_STARTS = 200


# Waits until the processes are quiet; returns when the quiet began (time.perf_counter()).
Idle = Callable[[], Awaitable[float]]


@dataclass
class Plan:
    reminders: int
    window: float

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        return cls(1_000, 120.0) if quick else cls(10_000, 600.0)

    @property
    def groups(self) -> int:
        return -(-self.reminders // GROUP)

    def instants(self, start: float) -> list[float]:
        """One instant per group, evenly spaced over the window from `start`."""
        step = self.window / self.groups
        return [start + k * step for k in range(self.groups)]

    def describe(self) -> str:
        return (
            f"{self.reminders:,} reminders due over {self.window / 60:.0f} min, {GROUP} at each "
            f"of {self.groups} instants {self.window / self.groups:.2f} s apart"
        )


@dataclass
class Side:
    late: list[float]
    missing: int
    # Seconds between the end of the setup and the first instant (negative: it overran).
    margin: float
    # Each reminder's instant, in seconds from the first: where in the window the late ones are.
    at: list[float]

    def by_slice(self, window: float, slices: int = SLICES) -> list[float]:
        """The p99 of each slice of the window, in order: a tail spread evenly is the side's
        own; one gathered in a slice or two points at something that happened then."""
        width = window / slices
        parts: list[list[float]] = [[] for _ in range(slices)]
        for at, late in zip(self.at, self.late, strict=True):
            parts[min(slices - 1, int(at // width))].append(late)
        return [round(pct(part, 99), 3) if part else 0.0 for part in parts]


def group_of(codes: Sequence[str], k: int) -> list[str]:
    """The k-th directive's GROUP communes, taken in turn from the province's."""
    return [codes[(k * GROUP + j) % len(codes)] for j in range(GROUP)]


def lead_seconds(count: int, per_second: float) -> float:
    """Time to leave for a setup of `count` before the first instant, at the rate a probe of
    the same kind of setup just measured (the machine may be shared: a fixed guess is not)."""
    return max(20.0, 1.15 * count / per_second + MARGIN_SECONDS)


def next_lead(lead: float, side: Side) -> float:
    """The lead of a side's next batch: longer by what this one's setup ate of the margin, so
    that a setup that ran up to (or past) its first instant does not do so again. (The bare
    side's first 20 s still read a p99 of 1.4-2.2 s where the rest of its window reads
    0.3-0.6 s, with its setup ended 6 s late or 11 s early alike: its cause is not known.)"""
    return lead + max(0.0, MARGIN_SECONDS - side.margin)


async def product_probe(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    engine: Engine,
    codes: Sequence[str],
    idle: Idle,
) -> float:
    """Assignments per second of a setup like the measured one: PROBE_DIRECTIVES directives
    of GROUP communes, ISSUING_AT_ONCE at a time, until fanned out and the processes quiet.
    Their reminders and deadline are the default policy's, weeks away."""
    gate = asyncio.Semaphore(ISSUING_AT_ONCE)

    async def one(k: int) -> int:
        async with gate:
            return await issue(http, headers, group_of(codes, k))

    start = time.perf_counter()
    ids = await asyncio.gather(*(one(k) for k in range(PROBE_DIRECTIVES)))
    await until_fanned_out(engine, ids, PROBE_DIRECTIVES * GROUP, poll=0.1)
    return PROBE_DIRECTIVES * GROUP / (await idle() - start)


async def bare_probe(client: Client, idle: Idle) -> float:
    """Bare starts per second, STARTING_AT_ONCE at a time, of reminders weeks away, until the
    processes are quiet."""
    due = time.time() + timedelta(days=20).total_seconds()
    batch = f"probe-{uuid.uuid4().hex[:8]}"
    gate = asyncio.Semaphore(STARTING_AT_ONCE)

    async def start(name: str) -> None:
        async with gate:
            await client.start_workflow(
                ReminderWorkflow.run,
                ReminderInput(batch, name, due),
                id=name,
                task_queue=BARE_TASK_QUEUE,
            )

    began = time.perf_counter()
    await asyncio.gather(*(start(f"{batch}-{i}") for i in range(PROBE_STARTS)))
    return PROBE_STARTS / (await idle() - began)


async def _until_recorded(
    count: int, last_instant: float, counted: Any, what: str
) -> tuple[int, float]:
    """Wait until `counted()` reaches `count` or the grace after the last instant is over;
    returns the count found and when the wait stopped."""
    while True:
        found: int = await asyncio.to_thread(counted)
        now = time.time()
        if found >= count or now > last_instant + GRACE_SECONDS:
            if found < count:
                say(f"{what}: {count - found} reminders not recorded")
            return found, now
        await asyncio.sleep(0.5)


async def product_side(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    engine: Engine,
    codes: Sequence[str],
    plan: Plan,
    lead: float,
    idle: Idle,
) -> Side:
    instants = plan.instants(time.time() + lead)
    gate = asyncio.Semaphore(ISSUING_AT_ONCE)

    async def one(k: int) -> int:
        async with gate:
            return await issue(
                http,
                headers,
                group_of(codes, k),
                deadline=datetime.fromtimestamp(instants[k], UTC) + OFFSET,
                reminder_offsets=["P1D"],
                escalation=[],
            )

    ids = await asyncio.gather(*(one(k) for k in range(plan.groups)))
    await until_fanned_out(engine, ids, len(ids) * GROUP, poll=0.5)
    await idle()
    margin = instants[0] - time.time()
    due = dict(zip(ids, instants, strict=True))

    def counted() -> int:
        with Session(engine) as session:
            return (
                session.scalar(
                    select(func.count()).select_from(
                        select(Notification.directive_id, Notification.commune_code)
                        .where(Notification.directive_id.in_(ids), Notification.kind == "reminder")
                        .distinct()
                        .subquery()
                    )
                )
                or 0
            )

    found, stopped = await _until_recorded(len(ids) * GROUP, instants[-1], counted, "product")
    with Session(engine) as session:
        rows = session.execute(
            select(Notification.directive_id, Notification.created_at).where(
                Notification.directive_id.in_(ids), Notification.kind == "reminder"
            )
        ).all()
    late = [created.timestamp() - due[d] for d, created in rows if d is not None]
    at = [due[d] - instants[0] for d, _ in rows if d is not None]
    missing = len(ids) * GROUP - found
    # A reminder never recorded is late by at least the wait that gave up on it.
    late += [stopped - instants[-1]] * missing
    at += [instants[-1] - instants[0]] * missing
    return Side(late, missing, margin, at)


async def bare_side(client: Client, engine: Engine, plan: Plan, lead: float, idle: Idle) -> Side:
    batch = f"late-{uuid.uuid4().hex[:8]}"
    instants = plan.instants(time.time() + lead)
    requests = [
        ReminderInput(batch, f"{batch}-{k}-{j}", instant)
        for k, instant in enumerate(instants)
        for j in range(GROUP)
    ]
    gate = asyncio.Semaphore(STARTING_AT_ONCE)

    async def start(request: ReminderInput) -> None:
        async with gate:
            await client.start_workflow(
                ReminderWorkflow.run, request, id=request.name, task_queue=BARE_TASK_QUEUE
            )

    await asyncio.gather(*(start(r) for r in requests))
    await idle()
    margin = instants[0] - time.time()

    def counted() -> int:
        with Session(engine) as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(BENCH_REMINDERS)
                    .where(BENCH_REMINDERS.c.batch == batch)
                )
                or 0
            )

    found, stopped = await _until_recorded(len(requests), instants[-1], counted, "bare")
    with Session(engine) as session:
        rows = session.execute(
            select(BENCH_REMINDERS.c.due, BENCH_REMINDERS.c.recorded_at).where(
                BENCH_REMINDERS.c.batch == batch
            )
        ).all()
    late = [recorded.timestamp() - due.timestamp() for due, recorded in rows]
    at = [due.timestamp() - instants[0] for due, _ in rows]
    missing = len(requests) - found
    late += [stopped - instants[-1]] * missing
    at += [instants[-1] - instants[0]] * missing
    return Side(late, missing, margin, at)


async def measure(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    client: Client,
    engine: Engine,
    codes: Sequence[str],
    quick: bool,
    idle: Idle,
) -> tuple[list[dict[str, Any]], int, int]:
    """The rows, and how many open assignments and bare workflows it leaves behind. `idle`
    waits until the processes are quiet (bench/settle.py): each side's setup ends so."""
    plan = Plan.for_mode(quick)
    BARE_METADATA.create_all(engine)
    product_lead = lead_seconds(
        plan.reminders, await product_probe(http, headers, engine, codes, idle)
    )
    bare_lead = lead_seconds(plan.reminders, await bare_probe(client, idle))
    say(
        f"lateness: {plan.describe()}; {RUNS} batches a side, taking turns, the product's "
        f"set up {product_lead:.0f} s ahead, the bare ones {bare_lead:.0f} s"
    )
    products: list[Side] = []
    bares: list[Side] = []
    for run in range(1, RUNS + 1):
        products.append(await product_side(http, headers, engine, codes, plan, product_lead, idle))
        bares.append(await bare_side(client, engine, plan, bare_lead, idle))
        product_lead = next_lead(product_lead, products[-1])
        bare_lead = next_lead(bare_lead, bares[-1])
        for side, what in ((products[-1], "product"), (bares[-1], "bare")):
            say(
                f"lateness {what} {run}/{RUNS}: {len(side.late)} rows, {side.missing} missing, "
                f"setup ended {side.margin:.1f} s before the first instant; p50 "
                f"{pct(side.late, 50):.3f} p99 {pct(side.late, 99):.3f} max "
                f"{max(side.late):.3f} s; p99 by {plan.window / SLICES:.0f} s of the window: "
                f"{side.by_slice(plan.window)}"
            )
    note = plan.describe()
    overran = [
        f"{what} {run} by {-side.margin:.1f} s"
        for what, sides in (("product", products), ("bare", bares))
        for run, side in enumerate(sides, start=1)
        if side.margin < 0
    ]
    if overran:
        # The first reminders fell due while the setup still ran: say so beside the figures.
        note += "; setup overran the first instant: " + ", ".join(overran)
    rows = []
    for label, q in (("p50", 50.0), ("p99", 99.0), ("max", 100.0)):
        r = row(
            f"reminder lateness {label}",
            "s",
            [pct(side.late, q) for side in products],
            [pct(side.late, q) for side in bares],
            note=note if label == "p50" else "",
        )
        r.update(
            product_missing=sum(side.missing for side in products),
            baseline_missing=sum(side.missing for side in bares),
            product_setup_margin_s=[round(side.margin, 1) for side in products],
            baseline_setup_margin_s=[round(side.margin, 1) for side in bares],
        )
        if label == "p99":
            r.update(
                product_p99_by_slice=[side.by_slice(plan.window) for side in products],
                baseline_p99_by_slice=[side.by_slice(plan.window) for side in bares],
            )
        rows.append(r)
    opened = RUNS * plan.groups * GROUP
    return rows, opened + PROBE_DIRECTIVES * GROUP, opened + PROBE_STARTS
