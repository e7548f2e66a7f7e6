"""Start the whole product on one machine: `make run`.

Migrates the database (SQLite under AXIS_DATA_DIR unless AXIS_DATABASE_URL is set), starts the
Temporal dev server (file-backed, unless AXIS_TEMPORAL_ADDRESS points at a real one), the worker
and the API as separate processes, and supervises them: a process that exits is restarted with
backoff while the others keep serving. Ctrl-C stops them all; so does a process that keeps
crashing, with its last lines of output."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from config import InsecureSetting, Settings, get_settings
from migrate import prepare_database
from secret_files import read_or_create
from services.accounts import (
    DEMO_LEADER_EXAMPLE,
    DEMO_LEADER_PASSWORD,
    DEMO_OFFICE_PASSWORD,
    DEMO_OFFICE_USERNAME,
    agency_username,
    leader_username,
)

TEMPORAL_START_SECONDS = 90
ADMIN_TOKEN_FILE = "admin-token"
STOP_GRACE_SECONDS = 15
DEFAULT_WORKER_METRICS_PORT = 9464
# A crashed process comes back after 1 s, then 2, 4 … at most 30 s; a process that stayed up a
# minute starts again from 1 s. Five restarts within two minutes is a fault a restart will not
# cure (a bad setting, a broken deploy): the stack stops and shows that process's last lines.
FIRST_RESTART_DELAY_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 30.0
STEADY_AFTER_SECONDS = 60.0
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 120.0
LAST_LINES = 20
POLL_SECONDS = 0.2

# Children's output passes through this process; one lock keeps their lines and ours whole.
_output_lock = threading.Lock()


def say(message: str) -> None:
    with _output_lock:
        sys.stdout.write(f"axis: {message}\n")
        sys.stdout.flush()


@dataclass
class RestartPolicy:
    """When to restart a process that exited, or None when it keeps crashing. The clock is
    injected so the policy is tested without waiting."""

    clock: Callable[[], float] = time.monotonic
    restarts: deque[float] = field(default_factory=deque)
    delay_seconds: float = FIRST_RESTART_DELAY_SECONDS
    started_at: float = 0.0

    def started(self) -> None:
        self.started_at = self.clock()

    def next_delay(self) -> float | None:
        now = self.clock()
        if now - self.started_at >= STEADY_AFTER_SECONDS:
            self.delay_seconds = FIRST_RESTART_DELAY_SECONDS
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW_SECONDS:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS:
            return None
        self.restarts.append(now)
        delay = self.delay_seconds
        self.delay_seconds = min(2 * delay, MAX_RESTART_DELAY_SECONDS)
        return delay


def pass_through(stream: IO[bytes], last_lines: deque[str]) -> None:
    """Copy a child's output to ours line by line, keeping its most recent lines."""
    for line in iter(stream.readline, b""):
        last_lines.append(line.decode(errors="replace").rstrip("\n"))
        with _output_lock:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
    stream.close()


@dataclass
class Supervised:
    """One process of the stack, started again by the same command when it exits."""

    name: str
    command: list[str]
    env: dict[str, str]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=LAST_LINES))
    process: subprocess.Popen[bytes] | None = None
    restart_at: float | None = None
    readers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert self.process.stdout is not None
        reader = threading.Thread(
            target=pass_through, args=(self.process.stdout, self.last_lines), daemon=True
        )
        reader.start()
        self.readers = [r for r in self.readers if r.is_alive()] + [reader]
        self.policy.started()
        self.restart_at = None
        return self.process


def supervise(children: list[Supervised], should_stop: Callable[[], bool]) -> bool:
    """Restart whichever child exits, with backoff, until told to stop; False when a child
    keeps crashing (the others are left for the caller to stop)."""
    while not should_stop():
        now = time.monotonic()
        for child in children:
            process = child.process
            if child.restart_at is not None:
                if now >= child.restart_at:
                    say(f"restarting {child.name}")
                    child.start()
                continue
            if process is None or process.poll() is None:
                continue
            delay = child.policy.next_delay()
            if delay is None:
                for reader in child.readers:
                    reader.join(timeout=2)  # its very last lines, written just before it exited
                say(
                    f"{child.name} exited with {process.returncode} and keeps crashing "
                    f"({MAX_RESTARTS} restarts within {RESTART_WINDOW_SECONDS:.0f} s); "
                    "stopping the stack. Its last lines:"
                )
                for line in child.last_lines:
                    say(f"  | {line}")
                return False
            say(f"{child.name} exited with {process.returncode}; restarting it in {delay:g} s")
            child.restart_at = now + delay
        time.sleep(POLL_SECONDS)
    return True


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        # As the servers themselves do: a port left in TIME_WAIT by a stack just stopped is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(host: str, port: int, seconds: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited with {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the Temporal dev server did not open port {port} in {seconds} s")


def admin_token(settings: Settings) -> str:
    """AXIS_ADMIN_TOKEN, or a token made once and kept under the data directory (private from
    the moment it exists, see secret_files)."""
    if settings.admin_token:
        return settings.admin_token
    path = settings.data_dir / ADMIN_TOKEN_FILE
    return read_or_create(path, lambda: f"axis_{secrets.token_urlsafe(32)}\n")


def where_the_token_is(settings: Settings, token: str) -> str:
    """The steering office's token itself only in demo mode; otherwise where to find it, so a
    production log never holds it."""
    if settings.demo_mode:
        return f"steering office token: {token}"
    if settings.admin_token:
        return "steering office token: the one in AXIS_ADMIN_TOKEN"
    return f"steering office token: kept in {settings.data_dir / ADMIN_TOKEN_FILE}"


def temporal_dev_server(settings: Settings, env: dict[str, str]) -> Supervised:
    binary = Path(sys.executable).with_name("temporal")
    port = settings.temporal_port
    command = [
        str(binary), "server", "start-dev",
        "--db-filename", str((settings.data_dir / "temporal.db").resolve()),
        "--ip", "127.0.0.1", "--port", str(port),
        "--log-level", "warn",
        # The dev server's lines as JSON too when the product's are.
        "--log-format", settings.log_format,
    ]  # fmt: skip
    ui_port = port + 1000
    if ui_port < 65536 and port_is_free("127.0.0.1", ui_port):
        command += ["--ui-port", str(ui_port)]
        say(f"Temporal UI on http://127.0.0.1:{ui_port}")
    else:
        command += ["--headless"]
    return Supervised("the Temporal dev server", command, env)


def worker_metrics_port(settings: Settings) -> int:
    """AXIS_WORKER_METRICS_PORT, or the conventional 9464 when free, or any free port: the
    embedded deployment always shows its worker's metrics."""
    if settings.worker_metrics_port:
        return settings.worker_metrics_port
    if port_is_free("127.0.0.1", DEFAULT_WORKER_METRICS_PORT):
        return DEFAULT_WORKER_METRICS_PORT
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def stop(children: list[Supervised]) -> None:
    processes = [child.process for child in children if child.process is not None]
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in reversed(processes):
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # The last lines a child wrote before it stopped still reach the terminal.
    for child in children:
        for reader in child.readers:
            reader.join(timeout=2)


def main() -> int:
    try:
        settings = get_settings()
    except InsecureSetting as e:
        say(f"not starting: {e}")
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["AXIS_DATA_DIR"] = str(settings.data_dir.resolve())
    env["AXIS_ADMIN_TOKEN"] = token = admin_token(settings)
    # The worker and the API write their lines in the format this process was given.
    env["AXIS_LOG_FORMAT"] = settings.log_format
    env.setdefault("AXIS_PUBLIC_URL", f"http://{settings.host}:{settings.port}")
    wanted = [(settings.host, settings.port, "AXIS_PORT")]
    if settings.temporal_address is None:
        wanted.append(("127.0.0.1", settings.temporal_port, "AXIS_TEMPORAL_PORT"))
    busy = [
        f"port {port} is in use (choose another with {variable})"
        for host, port, variable in wanted
        if not port_is_free(host, port)
    ]
    if busy:
        say("; ".join(busy))
        return 1
    say("preparing the database")
    prepare_database(settings).dispose()
    # Children write to a pipe we read; unbuffered, their lines arrive as they are written.
    env["PYTHONUNBUFFERED"] = "1"
    children: list[Supervised] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if settings.temporal_address is None:
            say(f"starting the Temporal dev server on 127.0.0.1:{settings.temporal_port}")
            # Restarted like the others: its history is in temporal.db, so a restart loses no
            # workflow, and the worker and the API reconnect to it by themselves.
            temporal = temporal_dev_server(settings, env)
            children.append(temporal)
            wait_for_port(
                "127.0.0.1", settings.temporal_port, TEMPORAL_START_SECONDS, temporal.start()
            )
        else:
            say(f"using Temporal at {settings.temporal_address}")
        env["AXIS_TEMPORAL_ADDRESS"] = settings.resolved_temporal_address
        metrics_port = worker_metrics_port(settings)
        env["AXIS_WORKER_METRICS_PORT"] = str(metrics_port)
        children.append(Supervised("the worker", [sys.executable, "worker.py"], env))
        children.append(
            Supervised(
                "the API",
                [
                    sys.executable, "-m", "uvicorn", "app:app",
                    "--host", settings.host, "--port", str(settings.port),
                    "--log-level", "warning",
                ],
                env,
            )
        )  # fmt: skip
        for child in children[-2:]:
            child.start()
        base = f"http://{settings.host}:{settings.port}"
        say(f"API on {base} (OpenAPI at {base}/docs, health at {base}/healthz)")
        say(where_the_token_is(settings, token))
        say(
            f"metrics on {base}/metrics (the steering office's token) and the worker's on "
            f"http://127.0.0.1:{metrics_port}/metrics"
        )
        say(f"pages on {base}/ (sign in at {base}/login)")
        if settings.demo_mode:
            say(
                f"demo sign-ins — office: {DEMO_OFFICE_USERNAME} / {DEMO_OFFICE_PASSWORD}; "
                f"a commune leader: xa<commune code> / {DEMO_LEADER_PASSWORD}, e.g. "
                f"{leader_username(DEMO_LEADER_EXAMPLE)} (Phường Buôn Ma Thuột); an agency "
                f"head: {agency_username('SNV')} / {DEMO_LEADER_PASSWORD} (Sở Nội vụ)"
            )
        say("Ctrl-C stops everything; a process that exits is restarted")
        healthy = supervise(children, lambda: stopping)
    except RuntimeError as e:
        say(str(e))
        stop(children)
        return 1
    say("stopping")
    stop(children)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
