"""Start the whole product on one machine: `make run`.

Migrates the database (SQLite under AXIS_DATA_DIR unless AXIS_DATABASE_URL is set), starts the
Temporal dev server (file-backed, unless AXIS_TEMPORAL_ADDRESS points at a real one), the worker
and the API as separate processes, and stops them all on Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from config import InsecureSetting, Settings, get_settings
from db.migrate import prepare_database
from secret_files import read_or_create
from web.accounts import (
    DEMO_LEADER_EXAMPLE,
    DEMO_LEADER_PASSWORD,
    DEMO_OFFICE_PASSWORD,
    DEMO_OFFICE_USERNAME,
    leader_username,
)

TEMPORAL_START_SECONDS = 90
ADMIN_TOKEN_FILE = "admin-token"
STOP_GRACE_SECONDS = 15
DEFAULT_WORKER_METRICS_PORT = 9464


def say(message: str) -> None:
    sys.stdout.write(f"axis: {message}\n")
    sys.stdout.flush()


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


def start_temporal(settings: Settings, env: dict[str, str]) -> subprocess.Popen[bytes]:
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
    process = subprocess.Popen(command, env=env)
    wait_for_port("127.0.0.1", port, TEMPORAL_START_SECONDS, process)
    return process


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


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
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
    processes: list[subprocess.Popen[bytes]] = []
    stopping = failed = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if settings.temporal_address is None:
            say(f"starting the Temporal dev server on 127.0.0.1:{settings.temporal_port}")
            processes.append(start_temporal(settings, env))
        else:
            say(f"using Temporal at {settings.temporal_address}")
        env["AXIS_TEMPORAL_ADDRESS"] = settings.resolved_temporal_address
        metrics_port = worker_metrics_port(settings)
        env["AXIS_WORKER_METRICS_PORT"] = str(metrics_port)
        processes.append(subprocess.Popen([sys.executable, "worker.py"], env=env))
        processes.append(
            subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "api.main:app",
                    "--host", settings.host, "--port", str(settings.port),
                    "--log-level", "warning",
                ],
                env=env,
            )
        )  # fmt: skip
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
                f"{leader_username(DEMO_LEADER_EXAMPLE)} (Phường Buôn Ma Thuột)"
            )
        say("Ctrl-C stops everything")
        while not stopping:
            for process in processes:
                if process.poll() is not None:
                    say(f"{process.args!r} exited with {process.returncode}; stopping the rest")
                    stopping = failed = True
            time.sleep(0.3)
    except RuntimeError as e:
        say(str(e))
        stop(processes)
        return 1
    say("stopping")
    stop(processes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
