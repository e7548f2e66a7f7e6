"""The product's processes as the faults tests kill them: a file-backed Temporal dev server
that can be stopped and started again on the same port, and worker processes (`worker.py`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.stack import ROOT, TEMPORAL_CLI, free_port, stop, wait_for_port


class TemporalServer:
    def __init__(self, folder: Path) -> None:
        self.db_file = folder / "temporal.db"
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            str(TEMPORAL_CLI), "server", "start-dev", "--db-filename", str(self.db_file),
            "--ip", "127.0.0.1", "--port", str(self.port), "--headless",
            "--http-port", str(free_port()), "--metrics-port", str(free_port()),
            "--log-level", "error",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, self.process, "the Temporal dev server")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


class Workers:
    """`python worker.py` processes with the product's settings; kill -9 one at any moment."""

    def __init__(self, database_url: str, temporal: str, task_queue: str, folder: Path) -> None:
        self.env = dict(os.environ)
        self.env.update(
            AXIS_DATABASE_URL=database_url,
            AXIS_TEMPORAL_ADDRESS=temporal,
            AXIS_TASK_QUEUE=task_queue,
            AXIS_DATA_DIR=str(folder),
            AXIS_PUBLIC_URL="http://axis.test",
            PYTHONPATH=str(ROOT),
        )
        self.folder = folder
        self.running: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        self.log = self.folder / f"worker-{self.env['AXIS_TASK_QUEUE']}-{self.started}.log"
        with self.log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "worker.py"],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running.append(process)
        return process

    async def started_polling(self, seconds: float = 60) -> None:
        """The last worker started has connected and polls (its log says so)."""
        for _ in range(int(seconds * 20)):
            if "worker on task queue" in self.log.read_text(errors="replace"):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the worker did not start in {seconds} s")

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            stop(process)
        self.running.clear()
