"""Scores of a known history (tests/scoring/scenario.py), read through HTTP with real tokens:
the ranking puts the communes that completed on time first, then the reworked, the late and
the silent ones; every scorecard figure and every point lost is checked by hand; exports are
read back; a recompute with another rule set keeps the old result; a snapshot is stored once
under two API processes; the change feed pages without gaps."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from api.main import take_daily_snapshot
from app import create_app
from config import Settings
from db.engine import make_engine
from db.models import AssignmentEventRow, Change, ScoreSnapshot
from scoring.periods import month_of, parse_period
from scoring.rules import rules_in_effect
from tests.conftest import TEST_SERVER
from tests.scoring.scenario import Scenario, build

SLACK_SECONDS = 60
DAY_SECONDS = 86400


def _colours(on_time: str, acknowledged: str, escalated: str, rework: str) -> dict[str, str]:
    # No recurring obligation in this history: that indicator never applies.
    return {
        "on_time": on_time,
        "acknowledged_in_time": acknowledged,
        "not_escalated": escalated,
        "no_rework": rework,
        "weekly_obligations": "none",
    }


ON_TIME_V1 = (100.0, "excellent", _colours("green", "green", "green", "green"))
REWORKED_V1 = (85.0, "good", _colours("green", "green", "green", "red"))
LATE_V1 = (30.0, "not_completed", _colours("red", "green", "red", "green"))
NEVER_V1 = (15.0, "not_completed", _colours("red", "red", "red", "green"))
NOT_RATED = (None, "not_rated", _colours("none", "none", "none", "none"))


@pytest.fixture(scope="module")
async def scenario(
    scratch_database_url: str, executor: ThreadPoolExecutor
) -> AsyncIterator[Scenario]:
    engine = make_engine(scratch_database_url)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        yield await build(
            env, engine, scratch_database_url, f"axis-scores-{uuid.uuid4().hex[:8]}", executor
        )
    finally:
        await env.shutdown()
        engine.dispose()


def _app(url: str, admin: str) -> FastAPI:
    # Reading scores needs no workflow engine: nothing listens on this port.
    return create_app(Settings(database_url=url, temporal_address="127.0.0.1:9", admin_token=admin))


class Http:
    def __init__(self, client: httpx.AsyncClient, admin: str) -> None:
        self.client = client
        self.admin = admin

    async def get(self, path: str, token: str | None = None, **params: str) -> httpx.Response:
        return await self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {token or self.admin}"}
        )

    async def post(self, path: str, body: dict[str, object] | None = None) -> httpx.Response:
        return await self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.admin}"}
        )

    async def token(self, role: str, commune_code: str | None = None) -> str:
        body: dict[str, object] = {"role": role, "name": role}
        if commune_code:
            body["commune_code"] = commune_code
        answer = await self.post("/api/v1/tokens", body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])


@pytest.fixture
async def http(scenario: Scenario) -> AsyncIterator[Http]:
    admin = f"admin-{uuid.uuid4().hex}"
    app = _app(scenario.url, admin)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield Http(client, admin)


def _expected(s: Scenario, v2: bool = False) -> dict[str, tuple[int, object, str, dict[str, str]]]:
    """commune → (rank, score, band, colours) as computed by hand from the rule files."""
    if v2:  # on time 70, acknowledged 10, not escalated 20, rework 0
        groups = [
            (s.on_time, 1, 100.0, "excellent", ON_TIME_V1[2]),
            (s.reworked, 1, 100.0, "excellent", REWORKED_V1[2]),
            (s.late, 51, 10.0, "not_completed", LATE_V1[2]),
            (s.never, 81, 0.0, "not_completed", NEVER_V1[2]),
            (s.untouched, 101, None, "not_rated", NOT_RATED[2]),
        ]
    else:
        groups = [
            (s.on_time, 1, *ON_TIME_V1),
            (s.reworked, 41, *REWORKED_V1),
            (s.late, 51, *LATE_V1),
            (s.never, 81, *NEVER_V1),
            (s.untouched, 101, *NOT_RATED),
        ]
    return {
        code: (rank, score, band, colours)
        for codes, rank, score, band, colours in groups
        for code in codes
    }


async def test_the_ranking_puts_on_time_first_then_reworked_late_and_silent(
    scenario: Scenario, http: Http
) -> None:
    leader = await http.token("commune_leader", scenario.never[0])
    # The figures are v1's, asked for by name: which version is in effect for the period
    # depends on the month the server's clock puts the history in.
    answer = await http.get("/api/v1/scores", token=leader, period=scenario.period, rules="v1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["period"], body["rules_version"], body["count"]) == (scenario.period, "v1", 102)
    default = (await http.get("/api/v1/scores", token=leader, period=scenario.period)).json()
    in_effect = rules_in_effect(parse_period(scenario.period).last_day).version
    assert default["rules_version"] == in_effect
    got = {
        r["commune_code"]: (r["rank"], r["score"], r["band"], r["colours"]) for r in body["data"]
    }
    assert got == _expected(scenario)
    # Listed by rank, ties by commune code; the two with nothing due come last.
    order = [r["commune_code"] for r in body["data"]]
    assert order == sorted(scenario.on_time) + sorted(scenario.reworked) + sorted(
        scenario.late
    ) + sorted(scenario.never) + sorted(scenario.untouched)
    assert body["data"][0]["band_label_vi"] == "Hoàn thành xuất sắc nhiệm vụ"


async def test_each_scorecard_names_every_point_lost_and_the_assignments_behind_it(
    scenario: Scenario, http: Http
) -> None:
    s = scenario

    async def card(code: str) -> dict:
        answer = await http.get(f"/api/v1/communes/{code}/scorecard", period=s.period, rules="v1")
        assert answer.status_code == 200, answer.text
        return answer.json()

    zero = {"completed_late": 0, "overdue_now": 0, "escalated": 0, "escalated_level_1": 0,
            "escalated_level_2": 0, "escalated_level_3_plus": 0, "returned_for_rework": 0,
            "returns": 0, "extension_asked": 0, "extension_granted": 0, "extension_requests": 0,
            "extensions_granted": 0, "completed_on_time": 0, "on_time": 0,
            "acknowledged_in_time": 0}  # fmt: skip
    one = {"received": 1, "decided": 1, "acknowledgement_due": 1}

    on_time = await card(s.on_time[0])
    assert (on_time["rank"], on_time["score"], on_time["band"]) == (1, 100.0, "excellent")
    figures = on_time["figures"]
    assert {k: figures[k] for k in {**zero, **one}} == {
        **zero,
        **one,
        "completed_on_time": 1,
        "on_time": 1,
        "acknowledged_in_time": 1,
    }
    assert abs(figures["median_acknowledgement_seconds"] - 0.5 * DAY_SECONDS) < SLACK_SECONDS
    assert abs(figures["median_completion_seconds"] - 5 * DAY_SECONDS) < SLACK_SECONDS
    assert on_time["explanation"] == []
    assert [(i["key"], i["points"], i["max_points"]) for i in on_time["indicators"]] == [
        ("on_time", 50.0, 50.0), ("acknowledged_in_time", 15.0, 15.0),
        ("not_escalated", 20.0, 20.0), ("no_rework", 15.0, 15.0),
        ("weekly_obligations", 0.0, 0.0),
    ]  # fmt: skip

    reworked = await card(s.reworked[0])
    assert (reworked["rank"], reworked["score"], reworked["band"]) == (41, 85.0, "good")
    assert {k: reworked["figures"][k] for k in {**zero, **one}} == {
        **zero, **one, "completed_on_time": 1, "on_time": 1, "acknowledged_in_time": 1,
        "returned_for_rework": 1, "returns": 1,
    }  # fmt: skip
    assert abs(reworked["figures"]["median_completion_seconds"] - 7 * DAY_SECONDS) < SLACK_SECONDS
    explained = reworked["explanation"]
    assert [(e["indicator"], e["points_lost"], e["assignments"]) for e in explained] == [
        ("no_rework", 15.0, [{"assignment_id": s.ids[s.reworked[0]],
                              "directive_id": s.directive_id, "commune_code": s.reworked[0]}]),
    ]  # fmt: skip
    assert reworked["explanation"][0]["rule"].startswith("no_rework: value = 1 - returned_for")

    late = await card(s.late[0])
    assert (late["rank"], late["score"], late["band"]) == (51, 30.0, "not_completed")
    assert {k: late["figures"][k] for k in {**zero, **one}} == {
        **zero, **one, "completed_late": 1, "acknowledged_in_time": 1, "escalated": 1,
        "escalated_level_1": 1,
    }  # fmt: skip
    assert abs(late["figures"]["median_completion_seconds"] - 11.5 * DAY_SECONDS) < SLACK_SECONDS
    behind = [{"assignment_id": s.ids[s.late[0]], "directive_id": s.directive_id,
               "commune_code": s.late[0]}]  # fmt: skip
    assert [(e["indicator"], e["points_lost"], e["points_per_assignment"], e["assignments"])
            for e in late["explanation"]] == [
        ("on_time", 50.0, 50.0, behind), ("not_escalated", 20.0, 20.0, behind),
    ]  # fmt: skip

    never = await card(s.never[0])
    assert (never["rank"], never["score"], never["band"]) == (81, 15.0, "not_completed")
    assert {k: never["figures"][k] for k in {**zero, **one}} == {
        **zero, **one, "overdue_now": 1, "escalated": 1, "escalated_level_2": 1,
    }  # fmt: skip
    assert never["figures"]["median_acknowledgement_seconds"] is None
    assert [(e["indicator"], e["points_lost"]) for e in never["explanation"]] == [
        ("on_time", 50.0), ("acknowledged_in_time", 15.0), ("not_escalated", 20.0),
    ]  # fmt: skip

    untouched = await card(s.untouched[0])
    assert (untouched["rank"], untouched["score"], untouched["band"]) == (101, None, "not_rated")
    assert untouched["figures"]["received"] == 0
    assert [i["applies"] for i in untouched["indicators"]] == [False] * 5


async def test_csv_and_excel_exports_of_the_102_communes_read_back(
    scenario: Scenario, http: Http
) -> None:
    expected = _expected(scenario)
    answer = await http.get("/api/v1/scores", period=scenario.period, rules="v1", format="csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == 102
    assert {r["commune_code"]: (int(r["rank"]), float(r["score"]) if r["score"] else None,
                                 r["band"]) for r in rows} == {
        code: (rank, score, band) for code, (rank, score, band, _) in expected.items()
    }  # fmt: skip
    by_code = {r["commune_code"]: r for r in rows}
    assert by_code["24133"]["name"] == "Phường Buôn Ma Thuột"
    assert by_code[scenario.late[0]]["completed_late"] == "1"

    answer = await http.get("/api/v1/scores", period=scenario.period, rules="v1", format="xlsx")
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    sheet = book["Xếp hạng"]
    table = list(sheet.iter_rows(values_only=True))
    header, data = table[0], table[1:]
    assert len(data) == 102
    records = {row[1]: dict(zip(header, row, strict=True)) for row in data}
    assert {code: (r["rank"], r["score"], r["band"]) for code, r in records.items()} == {
        code: (rank, score, band) for code, (rank, score, band, _) in expected.items()
    }
    assert records["24133"]["name"] == "Phường Buôn Ma Thuột"
    assert records[scenario.never[0]]["band_label_vi"] == "Không hoàn thành nhiệm vụ"
    assert records[scenario.never[0]]["overdue_now"] == 1
    # Numbers are numbers in the sheet, not text.
    assert records[scenario.on_time[0]]["score"] == 100 and records["24133"]["received"] == 1

    answer = await http.get(
        f"/api/v1/communes/{scenario.late[0]}/scorecard",
        period=scenario.period,
        rules="v1",
        format="xlsx",
    )
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    lines = list(book["Bảng điểm"].iter_rows(values_only=True))
    assert [(r[0], r[1], r[8], r[9]) for r in lines[1:]] == [
        ("on_time", "Hoàn thành đúng hạn", 50.0, str(scenario.ids[scenario.late[0]])),
        ("acknowledged_in_time", "Tiếp nhận đúng hạn", 0.0, None),
        ("not_escalated", "Không phải chuyển cấp trên đôn đốc", 20.0,
         str(scenario.ids[scenario.late[0]])),
        ("no_rework", "Không bị trả lại để làm lại", 0.0, None),
        ("weekly_obligations", "Thực hiện nhiệm vụ định kỳ hằng tuần", 0.0, None),
    ]  # fmt: skip
    answer = await http.get(
        f"/api/v1/communes/{scenario.late[0]}/scorecard",
        period=scenario.period,
        rules="v1",
        format="csv",
    )
    lines_csv = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [r[8] for r in lines_csv[1:]] == ["50.0", "0.0", "20.0", "0.0", "0.0"]


async def test_a_snapshot_taken_by_two_api_processes_at_once_is_stored_once(
    scenario: Scenario,
) -> None:
    apps = [_app(scenario.url, f"admin-{uuid.uuid4().hex}") for _ in range(2)]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        for app in apps:
            job = app.state.scheduler.get_job("score-snapshot")
            assert str(job.trigger.timezone) == "Asia/Ho_Chi_Minh"
        first = await asyncio.gather(*(take_daily_snapshot(app) for app in apps))
        again = await asyncio.gather(*(take_daily_snapshot(app) for app in apps))
    assert sorted(first) == [0, 102] and again == [0, 0]
    engine = make_engine(scenario.url)
    with Session(engine) as session:
        month = month_of(datetime.now(UTC)).key
        count = session.scalar(
            select(func.count()).select_from(ScoreSnapshot).where(ScoreSnapshot.period == month)
        )
        score_changes = session.scalar(
            select(func.count())
            .select_from(Change)
            .where(
                Change.entity == "score",
                Change.detail["period"].as_string() == month,
            )
        )
    engine.dispose()
    assert (count, score_changes) == (102, 102)


async def test_a_recompute_with_rules_v2_stores_beside_the_v1_result(
    scenario: Scenario, http: Http
) -> None:
    def recompute(rules: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "services.scoring", "recompute", "--period", scenario.period,
             "--rules", rules],
            env={**os.environ, "AXIS_DATABASE_URL": scenario.url},
            cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert recompute("v1") == f"{scenario.period}: 102 scorecards stored with rules v1\n"
    assert recompute("v2") == f"{scenario.period}: 102 scorecards stored with rules v2\n"
    engine = make_engine(scenario.url)
    with Session(engine) as session:
        stored = {
            (r.rules_version, r.commune_code): (r.rank, r.score, r.band)
            for r in session.scalars(
                select(ScoreSnapshot).where(ScoreSnapshot.period == scenario.period)
            )
        }
    engine.dispose()
    v1 = {code: (rank, score, band) for code, (rank, score, band, _) in _expected(scenario).items()}
    v2 = {code: (rank, score, band) for code, (rank, score, band, _) in
          _expected(scenario, v2=True).items()}  # fmt: skip
    assert stored == {
        **{("v1", c): v for c, v in v1.items()},
        **{("v2", c): v for c, v in v2.items()},
    }

    live = (await http.get("/api/v1/scores", period=scenario.period, rules="v2")).json()
    assert {r["commune_code"]: (r["rank"], r["score"], r["band"]) for r in live["data"]} == v2
    history = (await http.get("/api/v1/scores/history", commune_code=scenario.reworked[0],
                              period=scenario.period)).json()  # fmt: skip
    # The daily snapshot may have stored this period too, under the version in effect.
    assert [(h["rules_version"], h["score"], h["band"]) for h in history["data"]
            if h["rules_version"] in ("v1", "v2")] == [
        ("v1", 85.0, "good"), ("v2", 100.0, "excellent"),
    ]  # fmt: skip


async def test_the_change_feed_pages_through_every_change_once_in_order(
    scenario: Scenario, http: Http
) -> None:
    seen: list[str] = []
    changes: list[dict] = []
    cursor = ""
    for _ in range(1000):
        page = await http.get("/api/v1/changes", after=cursor, limit="37")
        assert page.status_code == 200, page.text
        body = page.json()
        if not body["data"]:
            assert body["next"] == cursor or cursor == ""
            break
        changes.extend(body["data"])
        seen.extend(c["cursor"] for c in body["data"])
        cursor = body["next"]
    engine = make_engine(scenario.url)
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Change))
        events = session.scalar(
            select(func.count())
            .select_from(AssignmentEventRow)
            .where(AssignmentEventRow.directive_id == scenario.directive_id)
        )
    engine.dispose()
    assert len(seen) == len(set(seen)) == total
    # One change per state the workflows recorded, and one per assignment issued.
    assignment_changes = [c for c in changes if c["entity"] == "assignment"]
    assert len(assignment_changes) == (events or 0) + 100
    late = scenario.late[0]
    assert [c["kind"] for c in assignment_changes if c["commune_code"] == late] == [
        "issued", "acknowledged", "overdue", "escalated", "reported", "accepted",
    ]  # fmt: skip
    leader = await http.token("commune_leader", late)
    own = (await http.get("/api/v1/changes", token=leader, limit="1000")).json()["data"]
    assert {c["commune_code"] for c in own} == {late}
    assert [c["kind"] for c in own if c["entity"] == "assignment"] == [
        "issued", "acknowledged", "overdue", "escalated", "reported", "accepted",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [
        {"period": "2026-13"},
        {"period": "2026-Q5"},
        {"period": "last month"},
        {"period": "2026-11", "from": "2026-11-01", "to": "2026-11-30"},
        {"from": "2026-11-30", "to": "2026-11-01"},
        {"from": "2026-11-01"},
        {},
        {"period": "2026-11", "rules": "v9"},
    ],
)
async def test_a_bad_period_or_rule_set_is_refused_with_422(
    scenario: Scenario, http: Http, params: dict[str, str]
) -> None:
    for path in ("/api/v1/scores", f"/api/v1/communes/{scenario.on_time[0]}/scorecard"):
        answer = await http.get(path, **params)
        assert answer.status_code == 422, (path, params, answer.text)
        assert answer.json()["detail"]
    bad = await http.get("/api/v1/changes", after="not-a-cursor")
    assert bad.status_code == 422
