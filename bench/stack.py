"""The parts a benchmark run starts for itself: a Temporal dev server on a temporary database
file, a scratch database (SQLite file, or a PostgreSQL database of its own) holding the
country's communes, and the product's processes, each on a free port, all stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from config import Settings
from db.communes import DAK_LAK, communes_of_country, communes_of_province
from db.engine import make_engine
from db.models import Commune
from db.upsert import insert_ignoring_duplicates
from migrate import prepare_database

ROOT = Path(__file__).resolve().parents[1]
TEMPORAL_CLI = Path(sys.executable).with_name("temporal")
START_SECONDS = 90
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Acknowledgements a leader's token may send a minute: the bench sends each leader dozens
# within one (one per directive), which the product's default allowance of 30 would refuse.
ACK_RATE_LIMIT = 1_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not open port {port} in {START_SECONDS} s")


def wait_for_http(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} in {START_SECONDS} s")


def stop(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Processes:
    """Every process a run started, stopped in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a process; its output goes to a log file under `logs` (BENCH_LOGS keeps it)."""
        log = (
            self.logs
            / f"{len(self.started)}-{Path(command[1 if len(command) > 1 else 0]).name}.log"
        )
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        self.started.append(process)
        return process

    def cpu(self) -> dict[str, float]:
        return {
            f"{i}-{Path(str(p.args[1])).name}": cpu_seconds(p.pid)  # type: ignore[index]
            for i, p in enumerate(self.started)
            if p.poll() is None
        }

    def stop_all(self) -> None:
        for process in reversed(self.started):
            stop(process)


def start_temporal(processes: Processes, folder: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    command = [
        str(TEMPORAL_CLI), "server", "start-dev",
        "--db-filename", str(folder / "temporal.db"),
        "--ip", "127.0.0.1", "--port", str(port), "--headless",
        "--http-port", str(free_port()), "--metrics-port", str(free_port()),
        "--log-level", "error",
    ]  # fmt: skip
    process = processes.start(command, dict(os.environ))
    wait_for_port(port, process, "the Temporal dev server")
    return f"127.0.0.1:{port}", process


def national_codes() -> list[str]:
    """The 3,321 communes of the country, in code order."""
    return [c.code for c in communes_of_country()]


def add_national_communes(url: str) -> int:
    """The country's communes beside the province's, for the national fan-out. The product
    issues to its own province's communes only, so those of the other provinces are stored
    under the province's code: the rows the other measurements use stay as they are, and
    every directive of the bench names its communes, so none reaches these by default."""
    province = {c.code for c in communes_of_province()}
    rows = [
        {**c.__dict__, "province_code": str(DAK_LAK)}
        for c in communes_of_country()
        if c.code not in province
    ]
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            for start in range(0, len(rows), 500):
                session.execute(
                    insert_ignoring_duplicates(
                        Commune.__table__,  # type: ignore[arg-type]
                        engine.dialect.name,
                        rows[start : start + 500],
                    )
                )
    finally:
        engine.dispose()
    return len(rows)


def _prepare(url: str, folder: Path) -> None:
    prepare_database(Settings(database_url=url, data_dir=folder)).dispose()
    add_national_communes(url)


@contextmanager
def scratch_database(backend: str, folder: Path) -> Iterator[str]:
    """A migrated database with the communes and the demo roster, as `make run` prepares it,
    and the country's other communes (add_national_communes)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'axis.db'}"
        _prepare(url, folder)
        yield url
        return
    admin = make_url(POSTGRES_URL)
    name = f"axis_bench_{uuid.uuid4().hex[:10]}"
    conninfo = (
        f"host={admin.host} port={admin.port or 5432} user={admin.username} dbname={admin.database}"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        _prepare(url, folder)
        yield url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def product_env(database_url: str, temporal: str, folder: Path, admin_token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AXIS_DATABASE_URL=database_url,
        AXIS_TEMPORAL_ADDRESS=temporal,
        AXIS_DATA_DIR=str(folder),
        AXIS_ADMIN_TOKEN=admin_token,
        AXIS_TASK_QUEUE="bench-product",
        AXIS_ACK_RATE_LIMIT=str(ACK_RATE_LIMIT),
        PYTHONPATH=str(ROOT),
    )
    return env


def start_api(
    processes: Processes, env: dict[str, str], app: str = "app:app"
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "300",
    ]  # fmt: skip
    if app.endswith("()"):
        command[3:4] = [app[:-2], "--factory"]
    process = processes.start(command, env)
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/healthz", process, app)
    return base, process
