"""The product as separate processes on PostgreSQL (uvicorn APIs, `worker.py` workers, one
Temporal dev server), driven over real HTTP: the database cut away during an acknowledgement
wave, and an API process and a worker killed with SIGKILL mid-run. Every answer is a 200 or a
clear refusal, and the read model ends with every acknowledgement once.

    .venv/bin/python -m pytest -m faults tests/faults/test_processes.py"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.stack import Processes, product_env, start_api
from db.communes import communes_of_province
from db.engine import make_engine
from db.models import Assignment, AssignmentEventRow
from tests.conftest import _postgres_reachable, fresh_database
from tests.faults.proxy import Proxy
from tests.faults.stack import TemporalServer, Workers
from tests.faults.test_crashes import exactly_once, notifications, until

pytestmark = pytest.mark.faults

CODES = [c.code for c in communes_of_province()]
ADMIN = f"office-{uuid.uuid4().hex}"
OUTAGE_SECONDS = 4
DIRECTIVE = {
    "title": "Báo cáo chuyển đổi số quý IV",
    "body": "Mỗi xã, phường gửi báo cáo kết quả kèm minh chứng.",
    "due_in_working_days": 5,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("processes")


@pytest.fixture(scope="module")
def database(folder: Path) -> Iterator[tuple[str, Engine]]:
    if os.environ.get("AXIS_TEST_REQUIRE_POSTGRES") != "1" and not _postgres_reachable():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    with fresh_database("postgresql", folder) as url:
        engine = make_engine(url)
        yield url, engine
        engine.dispose()


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[TemporalServer]:
    server = TemporalServer(folder)
    server.start()
    yield server
    server.stop()


@dataclass
class Stack:
    """The processes of one test, on a task queue of its own; all stopped at the end."""

    server: TemporalServer
    folder: Path
    queue: str = field(default_factory=lambda: f"processes-{uuid.uuid4().hex[:8]}")
    apis: Processes | None = None
    workers: list[Workers] = field(default_factory=list)

    def env(self, database_url: str) -> dict[str, str]:
        env = product_env(database_url, self.server.address, self.folder, ADMIN)
        env.update(AXIS_TASK_QUEUE=self.queue, AXIS_PUBLIC_URL="http://axis.test")
        return env

    async def api(self, database_url: str) -> tuple[str, subprocess.Popen[bytes]]:
        if self.apis is None:
            self.apis = Processes(self.folder)
        # In a thread: the proxy the API reaches its database through runs on this loop.
        return await asyncio.to_thread(start_api, self.apis, self.env(database_url))

    async def worker(self, database_url: str) -> subprocess.Popen[bytes]:
        workers = Workers(database_url, self.server.address, self.queue, self.folder)
        self.workers.append(workers)
        process = workers.start()
        await workers.started_polling()
        return process

    def stop(self) -> None:
        for workers in self.workers:
            workers.stop_all()
        if self.apis is not None:
            self.apis.stop_all()


@pytest.fixture
async def stack(server: TemporalServer, folder: Path) -> AsyncIterator[Stack]:
    stack = Stack(server, folder)
    try:
        yield stack
    finally:
        stack.stop()


def office(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=90
    )


async def leader_tokens(http: httpx.AsyncClient) -> dict[str, str]:
    async def make(code: str) -> tuple[str, str]:
        body = {"role": "commune_leader", "commune_code": code, "name": f"leader {code}"}
        answer = await http.post("/api/v1/tokens", json=body)
        assert answer.status_code == 201, answer.text
        return code, answer.json()["token"]

    return dict(await asyncio.gather(*(make(code) for code in CODES)))


async def issue(http: httpx.AsyncClient) -> int:
    answer = await http.post(
        "/api/v1/directives", json=DIRECTIVE, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert answer.status_code == 201, answer.text
    directive_id: int = answer.json()["id"]
    return directive_id


async def acknowledge(
    http: httpx.AsyncClient, directive_id: int, code: str, token: str
) -> tuple[int | str, str]:
    """(status code, detail or whether it was a repeat); a transport failure by its name."""
    try:
        answer = await http.post(
            f"/api/v1/directives/{directive_id}/assignments/{code}/acknowledge",
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as e:
        return type(e).__name__, ""
    body = answer.json()
    if answer.status_code == 200:
        return 200, "repeat" if body["already_acknowledged"] else "first"
    return answer.status_code, str(body.get("detail") or "")


def recorded(engine: Engine, directive_id: int) -> tuple[int, int, Counter[str]]:
    """(assignments, acknowledged assignments, acknowledgement events per commune)."""
    with Session(engine) as session:
        rows = session.scalar(select(func.count()).where(Assignment.directive_id == directive_id))
        acknowledged = session.scalar(
            select(func.count()).where(
                Assignment.directive_id == directive_id, Assignment.acknowledged_at.is_not(None)
            )
        )
        events = Counter(
            session.scalars(
                select(AssignmentEventRow.commune_code).where(
                    AssignmentEventRow.directive_id == directive_id,
                    AssignmentEventRow.kind == "acknowledged",
                )
            )
        )
    return rows or 0, acknowledged or 0, events


def all_issued(engine: Engine, directive_id: int) -> bool:
    return len(notifications(engine, directive_id, "issued")) >= len(CODES)


async def test_the_database_cut_away_during_acknowledgements_loses_nothing(
    stack: Stack, database: tuple[str, Engine], figure: Callable[[str], None]
) -> None:
    url, engine = database
    proxy = Proxy(make_url(url).port or 5432)
    await proxy.start()
    behind = make_url(url).set(host="127.0.0.1", port=proxy.port)
    proxied = behind.render_as_string(hide_password=False)
    try:
        await stack.worker(proxied)
        base, _ = await stack.api(proxied)
        async with office(base) as http:
            tokens = await leader_tokens(http)
            directive_id = await issue(http)
            await until(lambda: all_issued(engine, directive_id), "102 issue notices")

            answers: dict[str, tuple[int | str, str]] = {}

            async def ack(code: str) -> None:
                answers[code] = await acknowledge(http, directive_id, code, tokens[code])

            # Half the leaders click; the database goes once the first ten have been answered,
            # with the rest of that half in flight; the other half clicks while it is gone.
            first = [asyncio.create_task(ack(code)) for code in CODES[:51]]
            await until(lambda: len(answers) >= 10, "ten acknowledgements answered")
            await proxy.cut()
            cut_at = time.monotonic()
            answered_before_cut = len(answers)
            during = [asyncio.create_task(ack(code)) for code in CODES[51:]]
            await asyncio.gather(*during)
            refused_while_down = Counter(answers[code][0] for code in CODES[51:])
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - 0.5))
            await proxy.restore()
            down = time.monotonic() - cut_at
            await asyncio.gather(*first)
            wave = dict(answers)

            # Every answered 200 is in the read model; the refused ones are clicked again.
            _, _, events = recorded(engine, directive_id)
            accepted = [code for code, (status, _) in wave.items() if status == 200]
            missing_after_200 = [code for code in accepted if events[code] != 1]
            retried = [code for code, (status, _) in wave.items() if status != 200]
            await asyncio.gather(*(ack(code) for code in retried))
            again = Counter(answers[code] for code in retried)
            await until(lambda: recorded(engine, directive_id)[1] >= len(CODES), "102 acknowledged")
            rows, acknowledged, events = recorded(engine, directive_id)
            health = (await http.get("/healthz")).json()
    finally:
        await proxy.cut()
    statuses = Counter(status for status, _ in wave.values())
    unexplained = [
        (code, answer)
        for code, answer in wave.items()
        if answer[0] not in (200, 503) or (answer[0] == 503 and not answer[1])
    ]
    duplicates = sum(n - 1 for n in events.values())
    reached, notice_duplicates = exactly_once(notifications(engine, directive_id, "issued"))
    figure(
        f"database cut for {down:.1f} s after {answered_before_cut}/51 answers; wave answers "
        f"{dict(statuses)} ({refused_while_down[503]}/51 sent while down refused 503 with "
        f"'{next((d for s, d in wave.values() if s == 503), '')}'), {len(unexplained)} "
        f"unexplained; {len(accepted) - len(missing_after_200)}/{len(accepted)} 200s in the "
        f"read model; {len(retried)} clicked again: {dict(again)}; read model {acknowledged}/"
        f"{rows} acknowledged, {duplicates} duplicate events, {reached}/102 notices with "
        f"{notice_duplicates} duplicates"
    )
    assert unexplained == []
    assert refused_while_down == {503: 51}
    assert missing_after_200 == []
    assert set(again) <= {(200, "first"), (200, "repeat")}
    assert (rows, acknowledged) == (102, 102)
    assert events == Counter({code: 1 for code in CODES})
    assert (reached, notice_duplicates) == (102, 0)
    assert health["database"] == "ok"


async def test_two_apis_and_two_workers_with_one_of_each_killed_lose_nothing(
    stack: Stack, database: tuple[str, Engine], figure: Callable[[str], None]
) -> None:
    url, engine = database
    (base_a, api_a), (base_b, _) = await asyncio.gather(stack.api(url), stack.api(url))
    doomed = await stack.worker(url)
    await stack.worker(url)
    async with office(base_a) as http_a, office(base_b) as http_b:
        tokens = await leader_tokens(http_b)
        directive_id = await issue(http_a)
        notices_at_issue = len(notifications(engine, directive_id, "issued"))

        answers: dict[str, tuple[int | str, str]] = {}
        through_a = CODES[:51]

        async def ack(http: httpx.AsyncClient, code: str) -> None:
            answers[code] = await acknowledge(http, directive_id, code, tokens[code])

        # Half through each API, clicked as soon as the directive is issued, while its fan-out
        # runs; API A and one worker go once ten of A's answers are in. The workflows that
        # worker held move to the other one, with the updates waiting on them.
        wave = [asyncio.create_task(ack(http_a, code)) for code in through_a]
        wave += [asyncio.create_task(ack(http_b, code)) for code in CODES[51:]]
        await until(
            lambda: sum(code in answers for code in through_a) >= 10, "ten answers from API A"
        )
        api_a.send_signal(signal.SIGKILL)
        stack.workers[0].kill(doomed)
        api_a.wait()
        killed = time.monotonic()
        answered_at_kill = len(answers)
        notices_at_kill = len(notifications(engine, directive_id, "issued"))
        await asyncio.gather(*wave)
        wave_done = time.monotonic()
        first_wave = dict(answers)
        # Whoever lost API A clicks again, through the survivor.
        lost_with_a = [code for code, (status, _) in first_wave.items() if status != 200]
        await asyncio.gather(*(ack(http_b, code) for code in lost_with_a))
        again = Counter(answers[code] for code in lost_with_a)
        await until(lambda: all_issued(engine, directive_id), "102 issue notices")
        await until(lambda: recorded(engine, directive_id)[1] >= len(CODES), "102 acknowledged")
        recovered = time.monotonic()
        counts = (await http_b.get(f"/api/v1/directives/{directive_id}")).json()["counts"]
    rows, acknowledged, events = recorded(engine, directive_id)
    reached, notice_duplicates = exactly_once(notifications(engine, directive_id, "issued"))
    duplicates = sum(n - 1 for n in events.values()) + notice_duplicates
    a_answered = Counter(first_wave[code][0] for code in through_a)
    figure(
        f"issue notices {notices_at_issue}/102 when issued, {notices_at_kill}/102 at the "
        f"kills; API A and a worker killed with {answered_at_kill}/102 acknowledgements "
        f"answered; A's 51: {dict(a_answered)}; B's 51: "
        f"{dict(Counter(first_wave[code][0] for code in CODES[51:]))}; {len(lost_with_a)} "
        f"clicked again through B: {dict(again)}; {rows}/102 assignments, {acknowledged}/102 "
        f"acknowledged, {reached}/102 issue notices, {duplicates} duplicates, "
        f"{102 - acknowledged} lost; the wave ended {wave_done - killed:.1f} s and everything "
        f"was recorded {recovered - killed:.1f} s after the kills"
    )
    assert answered_at_kill < 102
    assert all(first_wave[code][0] == 200 for code in CODES[51:])
    assert set(again) <= {(200, "first"), (200, "repeat")}
    assert (rows, acknowledged, reached) == (102, 102, 102)
    assert events == Counter({code: 1 for code in CODES})
    assert notice_duplicates == 0
    assert counts["status"]["acknowledged"] == 102
