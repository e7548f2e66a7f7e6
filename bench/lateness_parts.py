"""Where a reminder's lateness goes, read from a kept run's histories (`BENCH_KEEP=dir make
bench`, then `python -m bench.lateness_parts dir`).

For a sample of each lateness batch's reminders, in each sixth of its window (the latest half
and a random half), the parts of the time from its instant to its row:

- set: the timer's own fire time minus the instant. A workflow sleeps `due - workflow.now()`,
  where `now` is when its first task started; the server starts the timer when that task
  completes, so the timer is set late by that task's duration;
- fire: when the server fired the timer, after its fire time;
- wake: from the fire to the worker starting the task that it scheduled;
- rest: from that task's start to the row (the activity and the write).

The four add up to the lateness, up to the clocks of the server and the worker (one machine)."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from bench.lateness import OFFSET, SLICES
from bench.stack import Processes, start_temporal
from bench.stats import pct
from vocabulary.directives import assignment_workflow_id

# A reminder's timer is the one whose fire time falls within this of its instant: the product's
# assignments have other timers (the deadline) days away.
MATCH_SECONDS = 60.0
# A batch's instants are 0.6-1.2 s apart and the batches minutes apart: a gap longer than this
# between two of the product's instants begins its next batch.
BATCH_GAP_SECONDS = 60.0
SAMPLE = 30


@dataclass(frozen=True)
class Parts:
    set: float
    fire: float
    wake: float
    # When the woken task started: the rest, up to the row, is the caller's, who knows the row.
    started: float


@dataclass(frozen=True)
class Reminder:
    side: str
    batch: str
    workflow_id: str
    due: float
    recorded: float

    @property
    def late(self) -> float:
        return self.recorded - self.due


def _at(event: HistoryEvent) -> float:
    return event.event_time.ToDatetime().replace(tzinfo=UTC).timestamp()


def parts(events: Sequence[HistoryEvent], due: float) -> Parts | None:
    """The parts of the reminder due at `due` from its workflow's history; None when no timer
    of it fired."""
    started: dict[str, tuple[float, float]] = {}
    for i, event in enumerate(events):
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            attributes = event.timer_started_event_attributes
            duration = attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
            started[attributes.timer_id] = (_at(event), duration)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            set_at, duration = started[event.timer_fired_event_attributes.timer_id]
            fires_at = set_at + duration
            if abs(fires_at - due) > MATCH_SECONDS:
                continue
            fired = _at(event)
            woke = next(
                (
                    _at(later)
                    for later in events[i:]
                    if later.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
                ),
                fired,
            )
            return Parts(set=fires_at - due, fire=fired - fires_at, wake=woke - fired, started=woke)
    return None


def _seconds(value: object) -> float:
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).timestamp()


def reminders(folder: Path) -> list[Reminder]:
    """Every lateness reminder of the run, bare and product, with its batch."""
    engine = create_engine(f"sqlite:///{folder / 'axis.db'}")
    with engine.connect() as conn:
        bare = conn.execute(
            text(
                "SELECT batch, name, due, recorded_at FROM bench_reminders "
                + "WHERE batch LIKE 'late-%'"
            )
        ).all()
        # The product's reminders fall OFFSET before their directive's deadline.
        product = conn.execute(
            text(
                "SELECT n.directive_id, n.commune_code, n.created_at, d.deadline "
                "FROM notifications n JOIN directives d ON d.id = n.directive_id "
                "WHERE n.kind = 'reminder'"
            )
        ).all()
    engine.dispose()
    found = [
        Reminder("bare", batch, name, _seconds(due), _seconds(recorded))
        for batch, name, due, recorded in bare
    ]
    # The product's batches: instants more than a minute apart begin another.
    ordered = sorted(
        (
            (
                assignment_workflow_id(directive, code),
                _seconds(deadline) - OFFSET.total_seconds(),
                _seconds(created),
            )
            for directive, code, created, deadline in product
        ),
        key=lambda r: r[1],
    )
    batch, last = 0, None
    for workflow_id, due, recorded in ordered:
        if last is not None and due - last > BATCH_GAP_SECONDS:
            batch += 1
        found.append(Reminder("product", f"batch-{batch + 1}", workflow_id, due, recorded))
        last = due
    return found


def sixths(rows: Sequence[Reminder]) -> list[list[Reminder]]:
    first = min(r.due for r in rows)
    width = (max(r.due for r in rows) - first) / SLICES or 1.0
    out: list[list[Reminder]] = [[] for _ in range(SLICES)]
    for r in rows:
        out[min(SLICES - 1, int((r.due - first) // width))].append(r)
    return out


def _spread(values: Iterable[float]) -> str:
    v = list(values)
    return f"{statistics.median(v):.3f} ({max(v):.3f})" if v else "-"


async def report(address: str, rows: Sequence[Reminder], sample: int) -> None:
    client = await Client.connect(address)
    batches: dict[tuple[str, str], list[Reminder]] = {}
    for r in rows:
        batches.setdefault((r.side, r.batch), []).append(r)
    sys.stdout.write(
        "side batch sixth: p99 late | medians (max) of the sample: set fire wake rest\n"
    )
    for (side, batch), members in sorted(batches.items()):
        for k, part in enumerate(sixths(members)):
            # The latest half, and a random half of the others: none read twice.
            by_lateness = sorted(part, key=lambda r: r.late)
            half = sample // 2
            others = by_lateness[:-half] if half else by_lateness
            chosen = by_lateness[len(others) :] + random.sample(others, min(half, len(others)))
            found: list[tuple[Parts, Reminder]] = []
            for r in chosen:
                history = await client.get_workflow_handle(r.workflow_id).fetch_history()
                p = parts(list(history.events), r.due)
                if p is not None:
                    found.append((p, r))
            sys.stdout.write(
                f"{side} {batch} {k + 1}: {pct([r.late for r in part], 99):.3f} | "
                f"{_spread(p.set for p, _ in found)} {_spread(p.fire for p, _ in found)} "
                f"{_spread(p.wake for p, _ in found)} "
                f"{_spread(r.recorded - p.started for p, r in found)}\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder BENCH_KEEP kept")
    parser.add_argument("--sample", type=int, default=SAMPLE, help="reminders read per sixth")
    args = parser.parse_args()
    # The server's own log goes elsewhere: the run's is in the folder.
    with tempfile.TemporaryDirectory(prefix="axis-parts-") as logs:
        processes = Processes(Path(logs))
        try:
            address, _ = start_temporal(processes, args.folder)
            asyncio.run(report(address, reminders(args.folder), args.sample))
        finally:
            processes.stop_all()


if __name__ == "__main__":
    main()
