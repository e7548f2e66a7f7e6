"""The product as a newcomer runs it: `python run.py` (what `make run` calls) on free ports with
an empty data directory, driven over real HTTP. A directive with a deadline 40 seconds away,
reminders and a two-step ladder measured in seconds; the communes that answered get nothing
more, the others get exactly what the policy says. Then Ctrl-C stops every process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-office-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_stack(data: Path, **extra_env: str) -> Iterator[str]:
    """`python run.py` with an empty data directory on free ports; yields the API's address
    once /healthz answers, then stops it with Ctrl-C and checks nothing is left running."""
    port = int(extra_env.pop("AXIS_PORT", None) or free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
    env.update(
        AXIS_HOST="127.0.0.1",
        AXIS_PORT=str(port),
        AXIS_TEMPORAL_PORT=str(free_port()),
        AXIS_DATA_DIR=str(data),
        AXIS_ADMIN_TOKEN=TOKEN,
    )
    env.update(extra_env)
    log = (data / "run.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "run.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (data / "run.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the stack did not answer /healthz in 120 s"
            time.sleep(0.5)
        yield base
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(30) == 0
        leftovers = subprocess.run(
            ["pgrep", "-s", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        assert leftovers == [], f"processes left after Ctrl-C: {leftovers}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_stack(tmp_path_factory.mktemp("stack")) as base:
        yield base


@pytest.fixture
async def http(stack: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stack, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        yield client


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    """Poll an asynchronous outcome of the product, up to a bound."""
    limit = time.monotonic() + seconds
    while True:
        if await check():
            return
        assert time.monotonic() < limit, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.25)


async def test_a_directive_on_the_live_stack_reminds_and_escalates_exactly_as_its_policy_says(
    http: httpx.AsyncClient,
) -> None:
    communes = (await http.get("/api/v1/communes")).json()
    assert communes["count"] == 102
    codes = [c["code"] for c in communes["data"]]
    reported_early, reported_after_reminder, acknowledged_only = (
        codes[:5],
        codes[5:10],
        codes[10:15],
    )
    deadline = datetime.now(UTC) + timedelta(seconds=40)
    issued = await http.post(
        "/api/v1/directives",
        json={
            "title": "Cập nhật dữ liệu dân cư",
            "body": "Mỗi xã, phường cập nhật và báo cáo.",
            "deadline": deadline.isoformat(),
            "reminder_offsets": ["PT20S", "-PT5S"],
            "escalation": [
                {"after": "PT10S", "to": "official_in_charge"},
                {"after": "PT20S", "to": "steering_office"},
            ],
        },
        headers={"Idempotency-Key": "e2e-1"},
    )
    assert issued.status_code == 201, issued.text
    directive = issued.json()
    assert (directive["status"], directive["communes_count"]) == ("active", 102)

    tokens = {}
    for code in reported_early + reported_after_reminder + acknowledged_only:
        made = await http.post(
            "/api/v1/tokens",
            json={"role": "commune_leader", "commune_code": code, "name": f"leader {code}"},
        )
        tokens[code] = {"Authorization": f"Bearer {made.json()['token']}"}
    base = f"/api/v1/directives/{directive['id']}/assignments"
    report = {"summary": "Đã cập nhật", "evidence": ["https://example.invalid/bc.pdf"]}
    for code in reported_early:
        answer = await http.post(f"{base}/{code}/report", json=report, headers=tokens[code])
        assert answer.status_code == 200, answer.text
    for code in acknowledged_only:
        answer = await http.post(f"{base}/{code}/acknowledge", headers=tokens[code])
        assert answer.status_code == 200, answer.text

    async def notifications(**filters: str) -> list[dict[str, str]]:
        query = {"directive_id": str(directive["id"]), "limit": "500", **filters}
        found: list[dict[str, str]] = []
        while True:
            page = (
                await http.get("/api/v1/notifications", params={**query, "offset": len(found)})
            ).json()
            found += page["data"]
            if len(found) >= page["count"]:
                return found

    async def reminded() -> bool:
        sent = await notifications(kind="reminder")
        return {n["commune_code"] for n in sent} >= set(reported_after_reminder)

    await eventually(reminded, 60, "the reminder 20 s before the deadline")
    for code in reported_after_reminder:
        answer = await http.post(f"{base}/{code}/report", json=report, headers=tokens[code])
        assert answer.status_code == 200, answer.text
        assert answer.json()["timeliness"] == "within_deadline"

    unanswered = 102 - len(reported_early) - len(reported_after_reminder)

    async def ladder_done() -> bool:
        return len(await notifications(kind="escalation")) >= 2 * unanswered

    await eventually(ladder_done, 120, "the second rung of the ladder for every silent commune")
    sent = Counter(
        (n["commune_code"], n["kind"], n["recipient_role"]) for n in await notifications()
    )
    per_commune: dict[str, Counter[tuple[str, str]]] = {}
    for (code, kind, role), n in sent.items():
        per_commune.setdefault(code, Counter())[(kind, role)] = n
    leader = "commune_leader"
    silent = Counter(
        {
            ("issued", leader): 1,
            ("reminder", leader): 1,
            ("overdue", leader): 1,
            ("escalation", "official_in_charge"): 1,
            ("escalation", "steering_office"): 1,
        }
    )
    expected = {code: silent for code in codes}
    expected.update({code: Counter({("issued", leader): 1}) for code in reported_early})
    expected.update(
        {
            code: Counter({("issued", leader): 1, ("reminder", leader): 1})
            for code in reported_after_reminder
        }
    )
    assert per_commune == expected
    assert sum(sent.values()) == 5 * 1 + 5 * 2 + 92 * 5

    counts = (await http.get(f"/api/v1/directives/{directive['id']}")).json()["counts"]
    assert counts["status"]["reported"] == 10
    assert counts["status"]["acknowledged"] == 5
    assert counts["status"]["notified"] == 87
    assert counts["timeliness"] == {
        "within_deadline": 10,
        "overdue": 92,
        "on_time": 0,
        "late": 0,
    }
    rows = (await http.get(base)).json()["data"]
    assert Counter(r["escalation_level"] for r in rows) == {0: 10, 2: 92}
