"""`make run` supervises its processes: a worker killed during a directive's fan-out comes back
with backoff while the API keeps answering, and the fan-out finishes with every issue notice
recorded once; a killed Temporal dev server comes back from its file and the stack carries on.
The restart policy itself is checked on an injected clock."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from run import RestartPolicy, Supervised, supervise
from tests.e2e.test_stack import TOKEN, eventually, running_stack

WORKER_KILLS = 3
figures = logging.getLogger(__name__)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_restarts_back_off_reset_after_a_steady_minute_and_give_up_on_a_crash_loop() -> None:
    clock = FakeClock()
    policy = RestartPolicy(clock=clock)
    policy.started()
    delays = []
    for _ in range(5):
        clock.now += 1  # up one second, then it crashes again
        delays.append(policy.next_delay())
        policy.started()
    assert delays == [1, 2, 4, 8, 16]
    clock.now += 1
    assert policy.next_delay() is None, "a sixth crash within two minutes"

    # Crashing every 50 s: never a minute up, never five restarts in two minutes.
    policy = RestartPolicy(clock=clock)
    policy.started()
    delays = []
    for _ in range(8):
        clock.now += 50
        delays.append(policy.next_delay())
        policy.started()
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]

    # Up for a minute: the next crash is a new incident and starts again from 1 s.
    clock.now += 60
    assert policy.next_delay() == 1
    policy.started()
    clock.now += 1
    assert policy.next_delay() == 2


def test_a_process_that_keeps_crashing_stops_the_stack_with_its_last_lines(
    capfd: pytest.CaptureFixture[str],
) -> None:
    crashing = Supervised(
        "the worker",
        [sys.executable, "-c", "print('AXIS_DATABASE_URL is not a URL'); raise SystemExit(3)"],
        dict(os.environ),
        # Milliseconds instead of seconds: the same doubling, five restarts in 0.31 s.
        policy=RestartPolicy(delay_seconds=0.01),
    )
    crashing.start()
    started = time.monotonic()
    assert supervise([crashing], lambda: time.monotonic() - started > 30) is False
    for reader in crashing.readers:
        reader.join(timeout=5)
    out = capfd.readouterr().out
    assert out.count("axis: the worker exited with 3; restarting it in") == 5
    assert out.count("axis: restarting the worker") == 5
    assert "axis: the worker exited with 3 and keeps crashing (5 restarts within 120 s)" in out
    assert out.count("axis:   | AXIS_DATABASE_URL is not a URL") == 6
    assert out.count("AXIS_DATABASE_URL is not a URL\n") == 12  # passed through, then recalled


def worker_pids(data: Path) -> list[int]:
    """The live worker processes of the stack whose data directory is `data` (other stacks may
    be running on this machine)."""
    found = subprocess.run(["pgrep", "-f", "worker.py"], capture_output=True, text=True)
    mine = []
    for pid in map(int, found.stdout.split()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if f"AXIS_DATA_DIR={data}".encode() in environ:
            mine.append(pid)
    return mine


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path.resolve()
    with running_stack(data) as base:
        yield base, data


@pytest.mark.live
async def test_the_api_keeps_answering_and_the_fan_out_completes_while_the_worker_is_killed(
    stack: tuple[str, Path],
) -> None:
    base, data = stack
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as http:
        communes = (await http.get("/api/v1/communes")).json()
        assert communes["count"] == 102
        polling = True

        async def poll_the_api() -> None:
            while polling:
                for path in ("/healthz", "/api/v1/communes"):
                    try:
                        answers[str((await http.get(path)).status_code)] += 1
                    except httpx.HTTPError as e:
                        answers[type(e).__name__] += 1
                await asyncio.sleep(0.1)  # a steady rate of questions, not a wait

        poller = asyncio.create_task(poll_the_api())

        async def issue_notices() -> list[dict[str, str]]:
            query = {"directive_id": str(directive_id), "kind": "issued", "limit": "500"}
            found: list[dict[str, str]] = []
            while True:
                page = (
                    await http.get("/api/v1/notifications", params={**query, "offset": len(found)})
                ).json()
                found += page["data"]
                if len(found) >= page["count"]:
                    return found

        recorded_at_kill: list[int] = []
        # The fan-out records its 102 notices in well under a second once the worker has the
        # directive, too fast to aim at from here: the first kill lands as the directive is
        # sent, so its fan-out waits for a restarted worker; the next two as soon as the
        # restarted worker has connected again.
        posting = asyncio.create_task(
            http.post(
                "/api/v1/directives",
                json={
                    "title": "Rà soát hộ nghèo",
                    "body": "Mỗi xã, phường rà soát và báo cáo.",
                    "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
                },
                headers={"Idempotency-Key": "supervision-1"},
            )
        )

        for kill in range(WORKER_KILLS):
            (worker,) = worker_pids(data)
            os.kill(worker, signal.SIGKILL)
            if kill == 0:
                issued = await posting
                assert issued.status_code == 201, issued.text
                directive_id = issued.json()["id"]
            recorded_at_kill.append(len(await issue_notices()))

            async def reconnected(connected: int = kill + 2) -> bool:
                log = await asyncio.to_thread((data / "run.log").read_text)
                return log.count("worker on task queues") >= connected

            await eventually(reconnected, 60, "the supervisor restarting the worker")

        async def fanned_out() -> bool:
            return len(await issue_notices()) >= 102

        # A notice in flight on a killed worker is retried when its activity's start-to-close
        # timeout ends (2 minutes, workflows/assignment.py), hence the bound.
        await eventually(fanned_out, 240, "102 issue notices after the worker came back")
        notices = await issue_notices()
        polling = False
        await poller

    log = await asyncio.to_thread((data / "run.log").read_text)
    figures.info("issue notices at each kill: %s; API answers: %s", recorded_at_kill, answers)
    assert len(notices) == 102
    assert len({n["commune_code"] for n in notices}) == 102, "no commune notified twice"
    assert set(answers) <= {"200", "503"}, answers
    assert answers["200"] > 0
    for delay in (1, 2, 4):
        assert f"axis: the worker exited with -9; restarting it in {delay} s" in log
    assert log.count("axis: restarting the worker") == WORKER_KILLS
    assert "keeps crashing" not in log


def temporal_pids(data: Path) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", f"temporal server start-dev --db-filename {data}/"],
        capture_output=True,
        text=True,
    )
    return [int(pid) for pid in found.stdout.split()]


@pytest.mark.live
async def test_a_killed_temporal_dev_server_is_restarted_with_every_workflow_it_held(
    stack: tuple[str, Path],
) -> None:
    base, data = stack
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as http:
        (temporal,) = temporal_pids(data)
        os.kill(temporal, signal.SIGKILL)
        health: list[int] = []

        async def healthy_again() -> bool:
            health.append((await http.get("/healthz")).status_code)
            return health[-1] == 200 and temporal_pids(data) not in ([], [temporal])

        await eventually(healthy_again, 60, "/healthz answering 200 after the restart")
        issued = await http.post(
            "/api/v1/directives",
            json={
                "title": "Rà soát hộ nghèo",
                "body": "Mỗi xã, phường rà soát và báo cáo.",
                "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            },
            headers={"Idempotency-Key": "after-temporal-restart"},
        )
        assert issued.status_code == 201, issued.text
        query = {"directive_id": str(issued.json()["id"]), "kind": "issued", "limit": "1"}

        async def fanned_out() -> bool:
            page = (await http.get("/api/v1/notifications", params=query)).json()
            return int(page["count"]) == 102

        await eventually(fanned_out, 120, "102 issue notices after Temporal came back")
    log = await asyncio.to_thread((data / "run.log").read_text)
    figures.info("/healthz while Temporal restarted: %s", Counter(health))
    assert set(health) <= {200, 503}, health
    assert "axis: the Temporal dev server exited with -9; restarting it in 1 s" in log
    assert log.count("axis: restarting the Temporal dev server") == 1
