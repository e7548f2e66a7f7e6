"""The machine a run measured on and how busy it was with other work: the processor, cores and
memory, the load average before and after, and the CPU time that processes other than the
benchmark's own used while it ran (from /proc/stat, less the benchmark's own CPU time), with
the busiest of them by name. A reader can then tell a run on an idle machine from one that
shared it."""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def describe() -> str:
    cpu = platform.processor() or "unknown CPU"
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 2**20:.1f} GiB RAM"
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot, over every core."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    values = [int(v) for v in fields[:8]]
    return (sum(values) - values[3] - values[4]) / TICKS


def own_seconds() -> float:
    """This process's CPU seconds, with those of its children that have ended and were waited
    for: once the run has stopped every process it started, that is all the run's own work."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    found = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _command(pid: int, name: str) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return name
    words = [Path(a.decode(errors="replace")).name for a in args[:3] if a]
    return " ".join(words)[:60] or name


def processes() -> dict[int, tuple[str, float, int]]:
    """Every process but this one and its descendants: pid -> (name, CPU seconds so far, the
    tick it started at, which tells a reused pid from the process that had it)."""
    seen: dict[int, tuple[str, float, int]] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        seen[pid] = (name, (int(fields[11]) + int(fields[12])) / TICKS, int(fields[19]))
    for pid in _descendants(os.getpid(), parents):
        seen.pop(pid, None)
    return seen


class OtherProcesses:
    """The other processes' CPU time, sampled every SAMPLE_SECONDS in a thread while the run
    lasts: a process that ends before the run does is still counted up to its last sample,
    and the highest one-minute load average seen is kept."""

    SAMPLE_SECONDS = 5.0

    def __init__(self) -> None:
        # pid -> [start tick, command, CPU seconds at first sight (0 if born during the run),
        # CPU seconds last seen]
        self.seen: dict[int, list[Any]] = {}
        self.peak_load = os.getloadavg()[0]
        self._first = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        for pid, (name, cpu, began) in processes().items():
            known = self.seen.get(pid)
            if known is None or known[0] != began:
                # New, or its pid reused by another process.
                self.seen[pid] = [began, _command(pid, name), cpu if self._first else 0.0, cpu]
            else:
                known[3] = cpu
        self._first = False
        self.peak_load = max(self.peak_load, os.getloadavg()[0])

    def _run(self) -> None:
        while not self._stop.wait(self.SAMPLE_SECONDS):
            self.sample()

    def __enter__(self) -> OtherProcesses:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def busiest(self, count: int = 3) -> list[tuple[str, float]]:
        used: dict[str, float] = {}
        for _began, command, first, last in self.seen.values():
            if last > first:
                used[command] = used.get(command, 0.0) + last - first
        return sorted(used.items(), key=lambda kv: -kv[1])[:count]


@dataclass
class Snapshot:
    at: float = field(default_factory=time.monotonic)
    load: tuple[float, float, float] = field(default_factory=os.getloadavg)
    busy: float = field(default_factory=busy_seconds)
    own: float = field(default_factory=own_seconds)


@dataclass
class Load:
    """The machine's other work between two snapshots."""

    seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    peak_load: float
    others_cpu: float
    busiest: list[tuple[str, float]]

    @classmethod
    def between(cls, before: Snapshot, after: Snapshot, others: OtherProcesses) -> Load:
        cpu = max(0.0, (after.busy - before.busy) - (after.own - before.own))
        return cls(
            after.at - before.at,
            before.load,
            after.load,
            others.peak_load,
            cpu,
            others.busiest(),
        )

    def share(self) -> float:
        """The other work as a share of what every core could have done meanwhile."""
        capacity = self.seconds * (os.cpu_count() or 1)
        return self.others_cpu / capacity if capacity else 0.0

    def describe(self) -> str:
        def avg(load: tuple[float, float, float]) -> str:
            return " / ".join(f"{v:.2f}" for v in load)

        busiest = ", ".join(f"`{name}` {cpu:.0f} s" for name, cpu in self.busiest) or "none"
        return (
            f"load average (1 / 5 / 15 min) {avg(self.load_before)} before, "
            f"{avg(self.load_after)} after, 1-min peak {self.peak_load:.2f}; other processes "
            f"used {self.others_cpu:.0f} CPU s during the run ({self.share():.0%} of the "
            f"machine), the busiest: {busiest}"
        )
