"""When the processes a run started have gone quiet: the Temporal server, the workers and the
APIs all but idle. A product may answer and write its rows before it has finished the work
they stand for (workflows still starting, records written behind an answer), and the bare side
leaves its worker the first task of every workflow it started; either would otherwise spill
into the next run of the other side. Read from /proc, so it holds whatever the product does
inside."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# CPU seconds all watched processes together may use in one window and still count as quiet:
# a tenth of one core. Idle, the dev server and the workers poll and tick at about 1–3 %.
QUIET_SHARE = 0.10
WINDOW_SECONDS = 0.25
# Windows in a row that must be quiet.
QUIET_WINDOWS = 3
LONGEST_SECONDS = 300.0


async def quiet_since(cpu: Callable[[], float], longest: float = LONGEST_SECONDS) -> float:
    """Wait until the processes behind `cpu()` (their CPU seconds so far, summed) have been
    quiet for QUIET_WINDOWS windows; returns the time.perf_counter() at which the quiet began
    (the start of its first window), so a caller can time work up to the moment it ended.
    Gives up after `longest` seconds and returns that moment."""
    started = time.perf_counter()
    streak_began: float | None = None
    streak = 0
    before, at = cpu(), time.perf_counter()
    while True:
        await asyncio.sleep(WINDOW_SECONDS)
        now_cpu, now = cpu(), time.perf_counter()
        if now_cpu - before <= QUIET_SHARE * (now - at):
            if streak == 0:
                streak_began = at
            streak += 1
            if streak >= QUIET_WINDOWS and streak_began is not None:
                return streak_began
        else:
            streak = 0
        if now - started > longest:
            return now
        before, at = now_cpu, now
