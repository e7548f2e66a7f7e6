"""Structured logs: with AXIS_LOG_FORMAT=json every line of the API (uvicorn's and ours) and the
worker (ours and temporalio's) is one JSON object with the ids of the work in hand, and nothing
secret or personal; by default the lines stay the readable text they were."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

import logs
from app import create_app
from bench.stack import free_port, stop
from config import Settings
from tests.conftest import fresh_database
from tests.logging_workflow import LoggingWorkflow, record_step
from worker import WORKFLOW_RUNNER

ADMIN_TOKEN = "logs-test-" + "t" * 40
LINK_TOKEN = "eyJkIjo0Mn0.c2lnbmF0dXJlLW9mLXRoZS1saW5r"
START_SECONDS = 60
LINE_SECONDS = 10
HEX_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class Server:
    base: str
    stderr: Path
    process: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.stderr.read_text() + self.stderr.with_suffix(".out").read_text()

    def wait_for(self, needle: str) -> str:
        """The first line holding `needle`, polled until it is written (the access line comes
        from the server process, a moment after the answer)."""
        deadline = time.monotonic() + LINE_SECONDS
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if needle in line:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no line with {needle!r} in {LINE_SECONDS} s:\n{self.text()}")


def start_uvicorn(folder: Path, database_url: str, **env: str) -> Server:
    """`uvicorn app:app` as the Dockerfile starts it (uvicorn's own logging config, default
    level), on a free port; Temporal is not needed by the routes these tests call."""
    port = free_port()
    stderr = folder / f"uvicorn-{port}.err"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
         "--port", str(port)],
        env={
            **os.environ,
            "AXIS_DATABASE_URL": database_url,
            "AXIS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "AXIS_DATA_DIR": str(folder),
            "AXIS_ADMIN_TOKEN": ADMIN_TOKEN,
            **env,
        },
        stdout=stderr.with_suffix(".out").open("wb"),
        stderr=stderr.open("wb"),
    )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", stderr, process)
    deadline = time.monotonic() + START_SECONDS
    while "Application startup complete" not in server.text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"uvicorn did not start:\n{server.text()}")
        time.sleep(0.1)
    return server


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("logs-db")) as url:
        yield url


@pytest.fixture(scope="module")
def json_api(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_uvicorn(tmp_path_factory.mktemp("json-api"), sqlite_url, AXIS_LOG_FORMAT="json")
    yield server
    stop(server.process)


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def access_line(server: Server, request_id: str) -> dict[str, Any]:
    line = json.loads(server.wait_for(f'"request_id": "{request_id}"'))
    assert isinstance(line, dict)
    return line


def assert_ts(line: dict[str, Any]) -> None:
    ts = line.pop("ts")
    assert ts.endswith("Z")
    written = datetime.fromisoformat(ts)
    assert written.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - written) < timedelta(minutes=1)


def test_a_request_without_an_id_gets_one_in_the_header_and_the_line(json_api: Server) -> None:
    answer = httpx.get(f"{json_api.base}/api/v1/directives/987654", headers=bearer())
    assert answer.status_code == 404
    request_id = answer.headers["X-Request-ID"]
    assert HEX_ID.fullmatch(request_id)
    line = access_line(json_api, request_id)
    assert_ts(line)
    msg = line.pop("msg")
    assert re.fullmatch(r'127\.0\.0\.1:\d+ - "GET /api/v1/directives/987654 HTTP/1\.1" 404', msg)
    assert line == {
        "level": "INFO",
        "logger": "uvicorn.access",
        "request_id": request_id,
        "directive_id": 987654,
    }


def test_the_callers_request_id_is_kept_and_route_ids_are_picked_up(json_api: Server) -> None:
    sent = "edge-7f3a.b_2"
    answer = httpx.get(
        f"{json_api.base}/api/v1/directives/987654/assignments/24133",
        headers={**bearer(), "X-Request-ID": sent},
    )
    assert (answer.status_code, answer.headers["X-Request-ID"]) == (404, sent)
    line = access_line(json_api, sent)
    assert_ts(line)
    assert line.pop("msg").endswith(
        '"GET /api/v1/directives/987654/assignments/24133 HTTP/1.1" 404'
    )
    assert line == {
        "level": "INFO",
        "logger": "uvicorn.access",
        "request_id": sent,
        "directive_id": 987654,
        "commune_code": "24133",
    }


@pytest.mark.parametrize("sent", ["x" * 65, "a b", "<script>", "id;drop", ""])
def test_an_unsafe_request_id_is_replaced(json_api: Server, sent: str) -> None:
    answer = httpx.get(f"{json_api.base}/api/v1/communes/24133", headers={"X-Request-ID": sent})
    replaced = answer.headers["X-Request-ID"]
    assert HEX_ID.fullmatch(replaced)
    line = access_line(json_api, replaced)
    assert line["request_id"] == replaced
    if sent:
        assert sent not in json_api.text()


def test_no_link_token_or_bearer_in_the_log_and_every_line_is_json(json_api: Server) -> None:
    answer = httpx.get(f"{json_api.base}/a/{LINK_TOKEN}", headers=bearer())
    line = access_line(json_api, answer.headers["X-Request-ID"])
    assert re.fullmatch(r'127\.0\.0\.1:\d+ - "GET /a/… HTTP/1\.1" 400', line["msg"])
    written = json_api.text()
    assert LINK_TOKEN not in written and ADMIN_TOKEN not in written
    lines = written.splitlines()
    # uvicorn's own start-up lines too: its default formatters were not put back over ours.
    started = [json.loads(x) for x in lines if "Started server process" in x]
    assert [(x["level"], x["logger"]) for x in started] == [("INFO", "uvicorn.error")]
    assert all(isinstance(json.loads(x), dict) for x in lines)


def test_text_stays_the_default(sqlite_url: str, tmp_path: Path) -> None:
    assert Settings().log_format == "text"
    server = start_uvicorn(tmp_path, sqlite_url)
    try:
        answer = httpx.get(f"{server.base}/a/{LINK_TOKEN}", headers={"X-Request-ID": "text-1"})
        assert answer.headers["X-Request-ID"] == "text-1"
        line = server.wait_for("GET /a/")
    finally:
        stop(server.process)
    # uvicorn's own access format, the link's token redacted as before.
    assert re.fullmatch(r'INFO: +127\.0\.0\.1:\d+ - "GET /a/… HTTP/1\.1" 400 Bad Request', line)
    assert "Started server process" in server.text() and "{" not in server.text()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """JSON lines of this process into a buffer; the loggers as they were afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    uvicorn = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in logs.UVICORN_LOGGERS
    }
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    buffer = io.StringIO()
    logs.configure_json(buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (handlers, propagate) in uvicorn.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


def written(buffer: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in buffer.getvalue().splitlines()]
    for line in lines:
        assert_ts(line)
    return lines


def test_personal_and_secret_extras_are_never_written(json_lines: io.StringIO) -> None:
    log = logging.getLogger("axis.test")
    log.warning(
        "sent %d messages",
        3,
        extra={
            "email": "nguyen.van.a@example.invalid",
            "phone": "+84 912 345 678",
            "description": "Ổ gà trước nhà số 12",
            "password": "hunter2-hunter2",
            "token": "axis_secret_token",
            "authorization": "Bearer axis_secret_token",
            "workflow_id": "directive-42/commune-24133",
        },
    )
    try:
        raise ValueError("bad row")
    except ValueError:
        log.exception("recording failed")
    first, second = written(json_lines)
    assert first == {
        "level": "WARNING",
        "logger": "axis.test",
        "msg": "sent 3 messages",
        "workflow_id": "directive-42/commune-24133",
        "directive_id": 42,
        "commune_code": "24133",
    }
    exc = second.pop("exc")
    assert exc.startswith("Traceback (most recent call last):")
    assert exc.endswith("ValueError: bad row")
    assert second == {"level": "ERROR", "logger": "axis.test", "msg": "recording failed"}
    for value in ("nguyen.van.a", "912 345", "Ổ gà", "hunter2", "axis_secret_token"):
        assert value not in json_lines.getvalue()
    # The traceback's newlines are escaped: two records, two lines.
    assert json_lines.getvalue().count("\n") == 2


def test_an_activity_line_carries_its_workflow_and_activity() -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id="directive-42/commune-24133", activity_type="record_assignment"
    )
    record = logging.LogRecord("axis.records", logging.INFO, __file__, 1, "recorded", None, None)

    def record_assignment() -> bool:
        return logs.AddContext().filter(record)

    assert env.run(record_assignment) is True
    line = json.loads(logs.JsonFormatter().format(record))
    assert_ts(line)
    assert line == {
        "level": "INFO",
        "logger": "axis.records",
        "msg": "recorded",
        "workflow_id": "directive-42/commune-24133",
        "activity": "record_assignment",
        "directive_id": 42,
        "commune_code": "24133",
    }
    # Outside an activity and a request, a line has no ids.
    bare = logging.LogRecord("axis.api", logging.INFO, __file__, 1, "started", None, None)
    assert logs.AddContext().filter(bare)
    assert set(json.loads(logs.JsonFormatter().format(bare))) == {"ts", "level", "logger", "msg"}


async def test_workflow_and_threaded_activity_lines_from_a_real_worker(
    time_env: WorkflowEnvironment, executor: ThreadPoolExecutor, json_lines: io.StringIO
) -> None:
    task_queue = f"logs-{uuid.uuid4().hex[:12]}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[LoggingWorkflow],
        activities=[record_step],
        activity_executor=executor,
        workflow_runner=WORKFLOW_RUNNER,
    ):
        done = await time_env.client.execute_workflow(
            LoggingWorkflow.run, "plan", id="directive-7", task_queue=task_queue
        )
    assert done == "plan"
    ours = [
        x for x in written(json_lines) if x["logger"] in ("temporalio.workflow", "axis.records")
    ]
    planning, recorded = ours
    assert planning.pop("msg").startswith("planning plan (")
    assert planning == {
        "level": "INFO",
        "logger": "temporalio.workflow",
        "workflow_id": "directive-7",
        "directive_id": 7,
    }
    assert recorded == {
        "level": "INFO",
        "logger": "axis.records",
        "msg": "recorded plan",
        "workflow_id": "directive-7",
        "activity": "record_step",
        "directive_id": 7,
    }


def test_the_api_installs_json_only_when_asked(json_lines: io.StringIO) -> None:
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, logs.JsonLinesHandler)]
    create_app(Settings(admin_token=ADMIN_TOKEN))
    assert [h for h in root.handlers if isinstance(h, logs.JsonLinesHandler)] == ours
    create_app(Settings(admin_token=ADMIN_TOKEN, log_format="json"))
    replaced = [h for h in root.handlers if isinstance(h, logs.JsonLinesHandler)]
    # Configuring again replaces the handler instead of doubling every line.
    assert len(replaced) == 1 and replaced != ours


@dataclass
class CoreEntry:
    """What the SDK core hands its log forwarding (temporalio.bridge.runtime.BufferedLogEntry)."""

    target: str
    message: str
    time: float
    level: int
    fields: dict[str, Any]


def test_the_sdk_cores_warnings_are_forwarded_as_json(json_lines: io.StringIO) -> None:
    assert logs.core_logging("text").forwarding is None
    forwarding = logs.core_logging("json").forwarding
    assert forwarding is not None
    forwarding._on_logs(
        [CoreEntry("temporal_sdk_core::pollers", "Failed to poll", time.time(), 30, {"n": 1})]
    )
    assert written(json_lines) == [
        {
            "level": "WARNING",
            "logger": "temporalio.core-sdk_core::temporal_sdk_core::pollers",
            "msg": "[sdk_core::temporal_sdk_core::pollers] Failed to poll {'n': 1}",
        }
    ]


async def test_an_unhandled_error_is_logged_with_its_request_id(
    sqlite_url: str, json_lines: io.StringIO
) -> None:
    app = create_app(
        Settings(
            database_url=sqlite_url,
            temporal_address=f"127.0.0.1:{free_port()}",
            admin_token=ADMIN_TOKEN,
        )
    )

    @app.get("/api/v1/directives/{directive_id}/explode")
    async def explode(directive_id: int) -> None:
        raise RuntimeError(f"directive {directive_id} exploded")

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off")
    # As in `uvicorn app:app`: uvicorn's logging config first, the app's JSON over it.
    logs.configure_json(json_lines)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            assert time.monotonic() < deadline and not serving.done()
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as http:
            answer = await http.get(
                f"http://127.0.0.1:{port}/api/v1/directives/5/explode",
                headers={"X-Request-ID": "boom-1"},
            )
    finally:
        server.should_exit = True
        await serving
    # The caller who reports the error can quote its id.
    assert (answer.status_code, answer.text) == (500, "Internal Server Error")
    assert answer.headers["X-Request-ID"] == "boom-1"
    errors = [x for x in written(json_lines) if x["level"] == "ERROR"]
    assert len(errors) == 1
    error = errors[0]
    assert error.pop("exc").endswith("RuntimeError: directive 5 exploded")
    assert error == {
        "level": "ERROR",
        "logger": "uvicorn.error",
        "msg": "Exception in ASGI application\n",
        "request_id": "boom-1",
        "directive_id": 5,
    }
