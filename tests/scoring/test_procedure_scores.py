"""Dossiers and feedback in the scorecard (rule set v3), from a known history built through the
real Dossier and Feedback workflows on the time-skipping server, read through HTTP: every
figure, every point lost with the dossiers and feedback behind it, and the ranking, by hand.

The next month that starts on a Monday with twenty ordinary days (weekends only: March 2027 when
written), derived from the server's clock (tests/scenario_dates.py). Dossiers of a
five-working-day procedure received Mon 1 09:00 are due Mon 8 17:00; feedback with ten working
days to answer received Mon 1 09:00 is due Mon 15 17:00 (escalated Tue 16 and Thu 18 if
unanswered).

- A (24133): dossiers early (Wed 3), on time (Mon 8, 11:00), late (Wed 10); two feedback
  answered Wed 10, rated 5 and 2.
- B (24163): dossiers early and on time; one feedback never answered (escalated).
- C (24121): one dossier early, one still open past its due time (not finished: not counted
  yet); one feedback answered on time, rated 5; one received Mon 15, due ten working days
  later (Mon 29 in an ordinary month), unanswered when the history ends on Sat 20 (not yet
  owed: not counted).

No commune has an assignment: the assignment indicators do not apply, so the weights that
apply are dossiers 20, feedback on time 10, satisfied 10.
- A: (20 × 2/3 + 10 × 1 + 10 × 1/2) / 40 = 70.83; loses 16.67 (late dossier) and 12.5
  (the rating of 2).
- B: (20 × 1 + 10 × 0) / 30 = 66.67; loses 33.33 (the unanswered feedback).
- C: 100.
Ranking C 1, A 2, B 3; the 99 others not rated (rank 4)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine
from db.models import Dossier, Feedback
from scoring.periods import parse_period
from scoring.rules import rules_in_effect
from services.scoring import rules_for
from tests.conftest import TEST_SERVER, running_worker
from tests.procedure_factories import store_dossier, store_feedback
from tests.scenario_dates import ordinary_month_after, server_now
from tests.scoring.test_scores import Http, _app
from tests.workflows.helpers import advance_to
from vocabulary.calendar import VIETNAM, nth_working_day_after
from vocabulary.cases import dossier_workflow_id, feedback_workflow_id
from workflows.dossier import DossierWorkflow
from workflows.feedback import FeedbackWorkflow
from workflows.procedure_types import (
    AnswerInput,
    DossierInput,
    DossierStepInput,
    FeedbackInput,
    RateInput,
)

A, B, C = "24133", "24163", "24121"
FIVE_WORKING_DAYS = "1.010038"  # Tách hộ
OFFICER = DossierStepInput(actor="commune_leader:một cửa")


@dataclass
class History:
    url: str
    first_day: date  # of the month the history takes place in, a Monday
    dossiers: dict[str, int]  # "a-late" → dossier id
    feedback: dict[str, int]  # "a-rated-2" → feedback id

    @property
    def period(self) -> str:
        return f"{self.first_day:%Y-%m}"

    def at(self, day: int, hour: int = 9) -> datetime:
        return datetime.combine(self.first_day.replace(day=day), time(hour), tzinfo=VIETNAM)


def _feedback(engine: Engine, commune: str, received: datetime) -> FeedbackInput:
    request = store_feedback(engine, "Đèn đường trước nhà văn hóa thôn bị hỏng", received)
    with Session(engine) as session, session.begin():
        row = session.get(Feedback, request.feedback_id)
        assert row is not None
        row.chosen_commune_code = commune  # the citizen chose the commune
    return request


async def _build(
    env: WorkflowEnvironment, engine: Engine, url: str, pool: ThreadPoolExecutor
) -> History:
    # Days 1 to 20 ordinary: every due time and step of the ladder falls as in a plain month.
    first_day = ordinary_month_after(await server_now(env), 20)
    at = History(url, first_day, {}, {}).at
    await advance_to(env, at(1))
    task_queue = f"axis-procedure-scores-{uuid.uuid4().hex[:8]}"
    names = ["a-early", "a-on-time", "a-late", "b-early", "b-on-time", "c-early", "c-open"]
    communes = {"a": A, "b": B, "c": C}
    dossier_inputs: dict[str, DossierInput] = {
        n: store_dossier(engine, FIVE_WORKING_DAYS, communes[n[0]], at(1)) for n in names
    }
    assert {r.due_at for r in dossier_inputs.values()} == {at(8, 17)}
    feedback_names = ["a-rated-5", "a-rated-2", "b-unanswered", "c-rated-5"]
    feedback_inputs = {n: _feedback(engine, communes[n[0]], at(1)) for n in feedback_names}
    async with running_worker(env.client, engine, task_queue, pool):
        dossiers: dict[str, WorkflowHandle[Any, Any]] = {
            n: await env.client.start_workflow(
                DossierWorkflow.run, r, id=dossier_workflow_id(r.dossier_id), task_queue=task_queue
            )
            for n, r in dossier_inputs.items()
        }
        feedback: dict[str, WorkflowHandle[Any, Any]] = {
            n: await env.client.start_workflow(
                FeedbackWorkflow.run,
                r,
                id=feedback_workflow_id(r.feedback_id),
                task_queue=task_queue,
            )
            for n, r in feedback_inputs.items()
        }
        await advance_to(env, at(3, 10))
        for n in ("a-early", "b-early", "c-early"):
            done = await dossiers[n].execute_update(DossierWorkflow.result_ready, OFFICER)
            assert done.timeliness.value == "early"
        await advance_to(env, at(8, 11))
        for n in ("a-on-time", "b-on-time"):
            done = await dossiers[n].execute_update(DossierWorkflow.result_ready, OFFICER)
            assert done.timeliness.value == "on_time"
        await advance_to(env, at(10, 10))
        done = await dossiers["a-late"].execute_update(DossierWorkflow.result_ready, OFFICER)
        assert done.timeliness.value == "late"
        for n, commune, rating in (("a-rated-5", A, 5), ("a-rated-2", A, 2), ("c-rated-5", C, 5)):
            answered = await feedback[n].execute_update(
                FeedbackWorkflow.answer,
                AnswerInput(actor="commune_leader:x", commune_code=commune, text="Đã sửa đèn."),
            )
            assert answered.answered_on_time is True
            await feedback[n].execute_update(FeedbackWorkflow.rate, RateInput(rating=rating))
        await advance_to(env, at(15))
        later = _feedback(engine, C, at(15))
        feedback_inputs["c-not-yet-due"] = later
        await env.client.start_workflow(
            FeedbackWorkflow.run,
            later,
            id=feedback_workflow_id(later.feedback_id),
            task_queue=task_queue,
        )
        await advance_to(env, at(20))
    with Session(engine) as session:
        unanswered = session.get(Feedback, feedback_inputs["b-unanswered"].feedback_id)
        not_yet = session.get(Feedback, later.feedback_id)
        still_open = session.get(Dossier, dossier_inputs["c-open"].dossier_id)
        assert unanswered is not None and not_yet is not None and still_open is not None
        assert (unanswered.answer_due_at, unanswered.escalation_level) == (at(15, 17), 2)
        not_yet_due = nth_working_day_after(at(15).date(), 10)
        assert not_yet_due.month == first_day.month, "the feedback not yet due falls in the month"
        assert (not_yet.answer_due_at, not_yet.escalation_level) == (at(not_yet_due.day, 17), 0)
        assert (still_open.status, still_open.timeliness) == ("received", "overdue")
    return History(
        url=url,
        first_day=first_day,
        dossiers={n: r.dossier_id for n, r in dossier_inputs.items()},
        feedback={n: r.feedback_id for n, r in feedback_inputs.items()},
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
    app = _app(history.url, admin)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield Http(client, admin)


PROCEDURE_INDICATORS = ("dossiers_in_time", "feedback_answered_on_time", "feedback_satisfied")


def _indicators(card: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """{key: (count, of, value, colour, max_points, points, points_lost)} of those that apply."""
    return {
        i["key"]: (i["count"], i["of"], i["value"], i["colour"], i["max_points"], i["points"],
                   i["points_lost"])
        for i in card["indicators"]
        if i["applies"]
    }  # fmt: skip


async def test_the_ranking_orders_the_communes_by_their_services(
    http: Http, history: History
) -> None:
    answer = await http.get("/api/v1/scores", period=history.period, rules="v3")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["rules_version"], body["count"]) == ("v3", 102)
    rows = body["data"]
    assert [(r["commune_code"], r["rank"], r["score"], r["band"]) for r in rows[:3]] == [
        (C, 1, 100.0, "excellent"),
        (A, 2, 70.83, "completed"),
        (B, 3, 66.67, "completed"),
    ]
    assert {(r["rank"], r["score"], r["band"]) for r in rows[3:]} == {(4, None, "not_rated")}
    colours = {r["commune_code"]: r["colours"] for r in rows[:3]}
    assert {k: colours[A][k] for k in PROCEDURE_INDICATORS} == {
        "dossiers_in_time": "red",
        "feedback_answered_on_time": "green",
        "feedback_satisfied": "red",
    }
    assert {k: colours[B][k] for k in PROCEDURE_INDICATORS} == {
        "dossiers_in_time": "green",
        "feedback_answered_on_time": "red",
        "feedback_satisfied": "none",
    }
    assert colours[C]["on_time"] == "none"  # no assignment: nothing to judge there
    # Without `rules` the ranking uses the rule set in effect for the period (v4 for March
    # 2027). v2 (and v4 after it) has no procedure indicators: nobody in this history is rated
    # by it; v5 (v3 with v4's credit for late completion) comes into effect on 1 July 2027.
    default = (await http.get("/api/v1/scores", period=history.period)).json()
    assert default["rules_version"] == rules_for(parse_period(history.period), None).version
    by_v2 = (await http.get("/api/v1/scores", period=history.period, rules="v2")).json()
    assert by_v2["rules_version"] == "v2"
    assert {r["band"] for r in by_v2["data"]} == {"not_rated"}
    assert rules_in_effect(date(2027, 6, 30)).version == "v4"
    assert rules_in_effect(date(2027, 7, 1)).version == "v5"


async def test_each_scorecard_names_the_dossiers_and_feedback_behind_its_points(
    http: Http, history: History
) -> None:
    cards = {
        code: (
            await http.get(f"/api/v1/communes/{code}/scorecard", period=history.period, rules="v3")
        ).json()
        for code in (A, B, C)
    }
    a, b, c = cards[A], cards[B], cards[C]
    assert (a["score"], a["rank"], b["score"], b["rank"], c["score"], c["rank"]) == (
        70.83, 2, 66.67, 3, 100.0, 1,
    )  # fmt: skip
    assert _indicators(a) == {
        "dossiers_in_time": (2, 3, 0.6667, "red", 50.0, 33.33, 16.67),
        "feedback_answered_on_time": (2, 2, 1.0, "green", 25.0, 25.0, 0.0),
        "feedback_satisfied": (1, 2, 0.5, "red", 25.0, 12.5, 12.5),
    }
    assert _indicators(b) == {
        "dossiers_in_time": (2, 2, 1.0, "green", 66.67, 66.67, 0.0),
        "feedback_answered_on_time": (0, 1, 0.0, "red", 33.33, 0.0, 33.33),
    }
    assert _indicators(c) == {
        "dossiers_in_time": (1, 1, 1.0, "green", 50.0, 50.0, 0.0),
        "feedback_answered_on_time": (1, 1, 1.0, "green", 25.0, 25.0, 0.0),
        "feedback_satisfied": (1, 1, 1.0, "green", 25.0, 25.0, 0.0),
    }
    figures = {
        code: {k: v for k, v in card["figures"].items() if k.startswith(("dossiers", "feedback"))}
        for code, card in cards.items()
    }
    assert figures == {
        A: {"dossiers_finished": 3, "dossiers_in_time": 2, "dossiers_early": 1,
            "dossiers_on_time": 1, "dossiers_late": 1, "feedback_due": 2,
            "feedback_answered_on_time": 2, "feedback_rated": 2, "feedback_satisfied": 1,
            "feedback_mean_rating": 3.5},
        B: {"dossiers_finished": 2, "dossiers_in_time": 2, "dossiers_early": 1,
            "dossiers_on_time": 1, "dossiers_late": 0, "feedback_due": 1,
            "feedback_answered_on_time": 0, "feedback_rated": 0, "feedback_satisfied": 0,
            "feedback_mean_rating": None},
        # The open overdue dossier and the feedback not yet due count for nothing yet.
        C: {"dossiers_finished": 1, "dossiers_in_time": 1, "dossiers_early": 1,
            "dossiers_on_time": 0, "dossiers_late": 0, "feedback_due": 1,
            "feedback_answered_on_time": 1, "feedback_rated": 1, "feedback_satisfied": 1,
            "feedback_mean_rating": 5.0},
    }  # fmt: skip

    def lost(card: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (e["indicator"], e["source"], e["points_lost"], e["points_per_assignment"],
             [r.get("dossier_id") or r.get("feedback_id") for r in e["assignments"]])
            for e in card["explanation"]
        ]  # fmt: skip

    d, f = history.dossiers, history.feedback
    assert lost(a) == [
        ("dossiers_in_time", "dossiers", 16.67, 16.67, [d["a-late"]]),
        ("feedback_satisfied", "feedback", 12.5, 12.5, [f["a-rated-2"]]),
    ]
    assert lost(b) == [("feedback_answered_on_time", "feedback", 33.33, 33.33, [f["b-unanswered"]])]
    assert lost(c) == []
    late = a["explanation"][0]["assignments"][0]
    assert {k: v for k, v in late.items() if not k.endswith("_at")} == {
        "dossier_id": d["a-late"],
        "commune_code": A,
        "procedure_code": FIVE_WORKING_DAYS,
        "timeliness": "late",
    }
    at = history.at
    assert datetime.fromisoformat(late["due_at"]) == at(8, 17)
    # The server's clock moves on a little while the update runs.
    finished = datetime.fromisoformat(late["finished_at"]) - at(10, 10)
    assert 0 <= finished.total_seconds() < 60
    unanswered = b["explanation"][0]["assignments"][0]
    assert (unanswered["answered_at"], unanswered["rating"]) == (None, None)
    assert datetime.fromisoformat(unanswered["answer_due_at"]) == at(15, 17)

    exported = await http.get(
        f"/api/v1/communes/{A}/scorecard", period=history.period, rules="v3", format="csv"
    )
    table = {
        row["indicator"]: row for row in csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")))
    }
    assert (
        table["dossiers_in_time"]["assignment_ids"],
        table["feedback_satisfied"]["assignment_ids"],
    ) == (
        f"dossier-{d['a-late']}",
        f"feedback-{f['a-rated-2']}",
    )
