"""Late must beat never, and nothing judged is not rated: a history built through the real
workflows on the time-skipping server, its dates derived from the server's clock, read through
HTTP (the scorecard API and the office's overview page).

One directive to X, Y and V, due on day 10, with no acknowledge-by time and no escalation
ladder (as in the run where the defect was seen); a second directive to V alone, due the same
moment:
- X acknowledges on day 1, reports on day 11 (after the deadline), accepted on day 12;
- Y never answers: overdue and not completed;
- V reports its first assignment on day 5 (accepted on day 6) and never answers the second.
On day 14 a third directive goes to W alone, due on day 24: minutes later W has received one
assignment and nothing of it is judged.

By hand, for the period of day 10:
- v1 (on time 50, acknowledged 15, not escalated 20, no rework 15; no acknowledge-by time, so
  that one does not apply: 85 apply): X and Y keep 20 + 15 = 35 of 85 = 41.18 each, the very
  figure of the defect; V 25 + 35 = 60 of 85 = 70.59.
- v4 (completed 70 with late at half, acknowledged 10, not escalated 20, no rework 0: 90
  apply): X 0.5 × 70 + 20 = 55 of 90 = 61.11 ("Hoàn thành nhiệm vụ"); Y 20 of 90 = 22.22;
  V 0.5 × 70 + 20 = 61.11 too, but half its assignments are overdue and not completed, above
  the fifth that "Hoàn thành nhiệm vụ" allows: its band falls to "Không hoàn thành nhiệm vụ".
- W, under every version: not rated."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from app import create_app
from config import Settings
from db.engine import make_engine
from db.models import Assignment, ScoreSnapshot
from scoring.periods import month_of, parse_period
from scoring.rules import known_versions, rules_in_effect
from services.accounts import create_account
from services.scoring import recompute
from tests.conftest import PUBLIC_URL, TEST_SERVER, running_worker
from tests.factories import store_directive
from tests.scenario_dates import server_now
from tests.scoring.test_scores import Http
from tests.workflows.helpers import DAY, advance_to, issue
from vocabulary.directives import DirectivePolicy, assignment_workflow_id
from vocabulary.roles import Role
from workflows.assignment import AssignmentWorkflow
from workflows.types import AcknowledgeInput, ReportInput, ReviewInput

X, Y, V, W = "24133", "24163", "24121", "24175"
# No acknowledge-by time and no escalation ladder: what counts is completion alone.
POLICY = DirectivePolicy(reminder_offsets_seconds=[86400], escalation=[])
PASSWORD = "mat-khau-thu-nghiem"


@dataclass
class History:
    url: str
    period: str  # of day 10: X, Y and V's deadlines
    w_period: str  # of day 24: W's deadline
    ids: dict[str, int]  # "x", "y", "v-done", "v-never", "w" → assignment id


async def _build(
    env: WorkflowEnvironment, engine: Engine, url: str, pool: ThreadPoolExecutor
) -> History:
    task_queue = f"axis-late-{uuid.uuid4().hex[:8]}"
    t0 = await server_now(env)
    first = store_directive(engine, [X, Y, V], t0, POLICY, deadline=t0 + 10 * DAY)
    second = store_directive(engine, [V], t0, POLICY, deadline=t0 + 10 * DAY)
    leader = AcknowledgeInput(actor="commune_leader:test")
    report = ReportInput(actor="commune_leader:test", summary="Đã hoàn thành", evidence=["bc.pdf"])
    accept = ReviewInput(actor="steering_office:test", accept=True)

    async with running_worker(env.client, engine, task_queue, pool):
        await issue(env, first, task_queue)
        await issue(env, second, task_queue)

        async def act(code: str, update: Any, arg: Any) -> None:
            handle = env.client.get_workflow_handle(
                assignment_workflow_id(first.directive_id, code)
            )
            await handle.execute_update(update, arg)

        for day, code, update, arg in [
            (1, X, AssignmentWorkflow.acknowledge, leader),
            (5, V, AssignmentWorkflow.report, report),
            (6, V, AssignmentWorkflow.review, accept),
            (11, X, AssignmentWorkflow.report, report),
            (12, X, AssignmentWorkflow.review, accept),
        ]:
            await advance_to(env, t0 + day * DAY)
            await act(code, update, arg)
        await advance_to(env, t0 + 14 * DAY)
        issued = await env.get_current_time()
        third = store_directive(engine, [W], issued, POLICY, deadline=t0 + 24 * DAY)
        await issue(env, third, task_queue)
        # A few minutes after the issue: nothing of W's assignment is due.
        await advance_to(env, issued + DAY / 288)

    with Session(engine) as session:
        found = {
            (directive_id, code): assignment_id
            for directive_id, code, assignment_id in session.execute(
                select(Assignment.directive_id, Assignment.commune_code, Assignment.id)
            )
        }
    return History(
        url=url,
        period=month_of(t0 + 10 * DAY).key,
        w_period=month_of(t0 + 24 * DAY).key,
        ids={
            "x": found[(first.directive_id, X)],
            "y": found[(first.directive_id, Y)],
            "v-done": found[(first.directive_id, V)],
            "v-never": found[(second.directive_id, V)],
            "w": found[(third.directive_id, W)],
        },
    )


@pytest.fixture(scope="module")
async def history(
    scratch_database_url: str, executor: ThreadPoolExecutor
) -> AsyncIterator[History]:
    engine = make_engine(scratch_database_url)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        yield await _build(env, engine, scratch_database_url, executor)
    finally:
        await env.shutdown()
        engine.dispose()


@pytest.fixture
async def http(history: History) -> AsyncIterator[Http]:
    admin = f"admin-{uuid.uuid4().hex}"
    # Reading scores and pages needs no workflow engine: nothing listens on this port.
    app = create_app(
        Settings(
            database_url=history.url,
            temporal_address="127.0.0.1:9",
            admin_token=admin,
            public_url=PUBLIC_URL,
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://axis.test", timeout=60
        ) as client,
    ):
        yield Http(client, admin)


async def _card(http: Http, code: str, period: str, rules: str) -> dict[str, Any]:
    answer = await http.get(f"/api/v1/communes/{code}/scorecard", period=period, rules=rules)
    assert answer.status_code == 200, answer.text
    card: dict[str, Any] = answer.json()
    return card


def _lost(card: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (e["indicator"], e["points_lost"], e["points_per_assignment"],
         [(a["assignment_id"], a.get("credit"), a.get("points_lost")) for a in e["assignments"]])
        for e in card["explanation"]
    ]  # fmt: skip


async def test_a_late_completion_scores_above_one_never_done_under_v4(
    http: Http, history: History
) -> None:
    cards = {
        name: await _card(http, code, history.period, "v4")
        for name, code in (("x", X), ("y", Y), ("v", V))
    }
    got = {k: (c["score"], c["band"], c["band_limited_from"]) for k, c in cards.items()}
    assert got == {
        "x": (61.11, "completed", None),
        "y": (22.22, "not_completed", None),
        # The score alone reaches "completed"; half overdue and not completed does not.
        "v": (61.11, "not_completed", "completed"),
    }
    assert [(i["key"], i["count"], i["of"], i["value"], i["points"], i["max_points"])
            for i in cards["x"]["indicators"] if i["applies"]] == [
        ("completed", 0, 1, 0.5, 38.89, 77.78),
        ("not_escalated", 0, 1, 1.0, 22.22, 22.22),
        ("no_rework", 0, 1, 1.0, 0.0, 0.0),
    ]  # fmt: skip
    assert {k: cards["x"]["figures"][k] for k in ("received", "judged", "decided",
            "completed_on_time", "completed_late", "overdue_now")} == {
        "received": 1, "judged": 1, "decided": 1, "completed_on_time": 0, "completed_late": 1,
        "overdue_now": 0,
    }  # fmt: skip
    ids = history.ids
    # Every point lost names the rule, explains it in words, and says what each assignment
    # earned: the late one half its share, the one never done nothing.
    assert _lost(cards["x"]) == [("completed", 38.89, 38.89, [(ids["x"], 0.5, 38.89)])]
    assert _lost(cards["y"]) == [("completed", 77.78, 77.78, [(ids["y"], 0.0, 77.78)])]
    assert _lost(cards["v"]) == [
        ("completed", 38.89, 38.89, [(ids["v-never"], 0.0, 38.89)]),
        ("band", 0.0, None, [(ids["v-never"], None, None)]),
    ]
    explained = cards["x"]["explanation"][0]
    assert explained["rule"].startswith(
        "completed: value = (completed_on_time + 0.5 × completed_late) / decided"
    )
    assert "một nửa" in explained["explain_vi"] and "half" in explained["explain_en"]
    assert "overdue_now / decided <= 0.2" in cards["v"]["band_rule"]

    ranking = (await http.get("/api/v1/scores", period=history.period, rules="v4")).json()
    top = [(r["commune_code"], r["rank"], r["score"], r["band"]) for r in ranking["data"][:3]]
    # The ranking is on the score: V and X share rank 1, listed by commune code.
    assert top == [
        (V, 1, 61.11, "not_completed"),
        (X, 1, 61.11, "completed"),
        (Y, 3, 22.22, "not_completed"),
    ]
    # v5, in effect after v4, scores assignments as v4 does.
    assert (await _card(http, X, history.period, "v5"))["score"] == 61.11
    assert (await _card(http, Y, history.period, "v5"))["score"] == 22.22


async def test_a_period_scored_under_v1_keeps_its_figures(http: Http, history: History) -> None:
    """Under v1 late and never scored the same (41.18 each): what v1 stored stays, and v1
    still computes it; v4 stores beside it."""
    engine = make_engine(history.url)
    period = parse_period(history.period)
    try:
        assert recompute(engine, period, "v1", datetime.now(UTC)) == 102
        assert recompute(engine, period, "v4", datetime.now(UTC)) == 102
        with Session(engine) as session:
            stored = {
                (r.rules_version, r.commune_code): (r.score, r.band)
                for r in session.scalars(
                    select(ScoreSnapshot).where(
                        ScoreSnapshot.period == history.period,
                        ScoreSnapshot.commune_code.in_((X, Y, V)),
                    )
                )
            }
    finally:
        engine.dispose()
    assert stored == {
        ("v1", X): (41.18, "not_completed"),
        ("v1", Y): (41.18, "not_completed"),
        ("v1", V): (70.59, "completed"),
        ("v4", X): (61.11, "completed"),
        ("v4", Y): (22.22, "not_completed"),
        ("v4", V): (61.11, "not_completed"),
    }
    live = {code: await _card(http, code, history.period, "v1") for code in (X, Y)}
    assert {code: (c["score"], c["band"]) for code, c in live.items()} == {
        X: (41.18, "not_completed"),
        Y: (41.18, "not_completed"),
    }
    assert live[X]["band_limited_from"] is None
    # Without `rules`, the period is scored by the version in effect on its last day.
    default = (await http.get("/api/v1/scores", period=history.period)).json()
    assert default["rules_version"] == rules_in_effect(period.last_day).version


async def test_a_commune_with_nothing_judged_is_not_rated(http: Http, history: History) -> None:
    for version in known_versions():
        card = await _card(http, W, history.w_period, version)
        assert (card["score"], card["band"]) == (None, "not_rated"), version
        assert card["figures"]["received"] == 1 and card["figures"]["judged"] == 0
        assert [i["key"] for i in card["indicators"] if i["applies"]] == [], version
        assert card["explanation"] == []

    username = f"office{uuid.uuid4().hex[:8]}"
    engine = make_engine(history.url)
    try:
        with Session(engine) as session, session.begin():
            create_account(session, username, PASSWORD, Role.STEERING_OFFICE, "Văn phòng")
    finally:
        engine.dispose()
    page = http.client
    form = await page.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text[:500]
    signed_in = await page.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf": csrf.group(1)}
    )
    assert signed_in.status_code == 303, signed_in.text
    overview = await page.get("/", params={"period": history.w_period})
    assert overview.status_code == 200, overview.text
    tile = re.search(rf'<a class="tile (\w+)" id="tile-{W}" data-band="(\w+)"[^>]*>([^<]*)'
                     r"<strong>([^<]*)</strong>", overview.text)  # fmt: skip
    assert tile, overview.text[:2000]
    assert (tile.group(1), tile.group(2), tile.group(4)) == ("grey", "not_rated", "—")
    assert "Chưa xếp loại" in overview.text

    # The pages that explain the scores render under the version in effect for the period:
    # the ranking's note, and Y's points lost with the rule behind them.
    in_effect = rules_in_effect(parse_period(history.period).last_day)
    ranking = await page.get("/scores", params={"period": history.period})
    assert ranking.status_code == 200, ranking.text
    assert "chưa có gì được đánh giá thì chưa xếp loại" in ranking.text
    commune = await page.get(f"/communes/{Y}", params={"period": history.period})
    assert commune.status_code == 200, commune.text
    first = in_effect.indicators[0]
    assert f'id="lost-{first.key}"' in commune.text
    assert first.describe().split(":")[0] in commune.text
