"""Recurring obligations: the period workflow on the time-skipping server (open for every
commune, reports counted, closed as met or missed at the week's end, fed to the scorecard), a
Tết week skipped, and the office's schedule on the Temporal dev server through the API."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleHandle,
    ScheduleState,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.obligations import ObligationActivities, week_of
from config import Settings
from db.communes import communes_of_province
from db.engine import make_engine
from db.models import ObligationPeriod, RecurringDirective
from db.obligations import NoOpenPeriod, report_activity
from scoring.periods import month_of
from services.recurring import schedule_for
from services.scoring import compute, rules_for
from tests.api.test_directives_api import eventually
from tests.conftest import ApiClient, running_worker
from tests.workflows.helpers import advance_to
from vocabulary.calendar import VIETNAM
from workflows.obligation import ObligationPeriodWorkflow
from workflows.obligation_types import (
    ObligationPeriodInput,
    OpenPeriodInput,
    PeriodOutcome,
)

CODES = [c.code for c in communes_of_province()]


@pytest.fixture(scope="module")
def scratch_engine(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


def store_recurring(engine: Engine, skip_holidays: bool = True) -> int:
    with Session(engine) as session, session.begin():
        recurring = RecurringDirective(
            title="Báo cáo hoạt động chuyển đổi số hằng tuần",
            body="Mỗi xã, phường báo cáo ít nhất hai hoạt động chuyển đổi số mỗi tuần.",
            required_count=2, communes=CODES, skip_holidays=skip_holidays, status="active",
            created_by="steering_office:test",
        )  # fmt: skip
        session.add(recurring)
        session.flush()
        return recurring.id


def report(engine: Engine, recurring_id: int, code: str, title: str) -> int:
    with Session(engine) as session, session.begin():
        period = report_activity(
            session, recurring_id, code, title, date(2026, 12, 2),
            "https://example.invalid/hoat-dong", f"commune_leader:{code}",
        )  # fmt: skip
        return period.reported_count


async def test_a_week_opens_for_every_commune_and_closes_met_or_missed_into_the_scorecard(
    time_env: WorkflowEnvironment,
    scratch_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    env, engine = time_env, scratch_engine
    recurring_id = store_recurring(engine)
    t0 = await env.get_current_time()
    starts, ends = week_of(t0)
    met, once, twice_the_same = CODES[0], CODES[1], CODES[2]
    async with running_worker(env.client, engine, task_queue, executor):
        handle = await env.client.start_workflow(
            ObligationPeriodWorkflow.run,
            ObligationPeriodInput(recurring_id=recurring_id),
            id=f"recurring-{recurring_id}-period-test",
            task_queue=task_queue,
        )
        await advance_to(env, t0 + timedelta(minutes=5))
        with Session(engine) as session:
            opened = session.scalar(
                select(func.count())
                .select_from(ObligationPeriod)
                .where(
                    ObligationPeriod.recurring_id == recurring_id,
                    ObligationPeriod.status == "open",
                    ObligationPeriod.starts_at == starts,
                    ObligationPeriod.ends_at == ends,
                )
            )
        assert opened == 102
        assert report(engine, recurring_id, met, "Hội nghị số hoá") == 1
        assert report(engine, recurring_id, met, "Tập huấn VNeID") == 2
        assert report(engine, recurring_id, once, "Tập huấn VNeID") == 1
        assert report(engine, recurring_id, twice_the_same, "Tập huấn VNeID") == 1
        assert report(engine, recurring_id, twice_the_same, "Tập huấn VNeID") == 1
        await advance_to(env, ends + timedelta(minutes=1))
        outcome: PeriodOutcome = await handle.result()
    assert (outcome.met, outcome.missed, outcome.not_applicable) == (1, 101, 0)
    assert outcome.communes_missed == [c for c in CODES if c != met]
    with pytest.raises(NoOpenPeriod):
        report(engine, recurring_id, once, "Muộn")

    # The week's result is a scorecard indicator of the month the week ended in.
    period = month_of(ends - timedelta(seconds=1))
    with Session(engine) as session:
        cards = {c.commune_code: c for c in compute(session, period, rules_for(period, "v1"),
                                                    datetime.now(UTC))}  # fmt: skip
    assert (cards[met].rank, cards[met].score, cards[met].band) == (1, 100.0, "excellent")
    assert (cards[once].rank, cards[once].score, cards[once].band) == (2, 0.0, "not_completed")
    assert {c.rank for code, c in cards.items() if code != met} == {2}
    weekly = next(i for i in cards[once].indicators if i.key == "weekly_obligations")
    assert (weekly.count, weekly.of, weekly.colour, weekly.points_lost) == (0, 1, "red", 100.0)
    lost = cards[once].explanation
    assert [(e["indicator"], len(e["assignments"])) for e in lost] == [("weekly_obligations", 1)]
    assert lost[0]["assignments"][0]["commune_code"] == once


def test_a_tet_week_owes_nothing_when_the_rule_skips_holidays(scratch_engine: Engine) -> None:
    skipping, working = store_recurring(scratch_engine), store_recurring(scratch_engine, False)
    activities = ObligationActivities(scratch_engine)
    # Tết 2026: Monday 16 to Sunday 22 February are all days off.
    tet = datetime(2026, 2, 17, 9, tzinfo=UTC)
    skipped = activities.open_obligation_period(OpenPeriodInput(skipping, tet))
    kept = activities.open_obligation_period(OpenPeriodInput(working, tet))
    again = activities.open_obligation_period(OpenPeriodInput(skipping, tet))
    assert (skipped.applicable, kept.applicable, again.applicable) == (False, True, False)
    assert skipped.starts_at == datetime(2026, 2, 15, 17, tzinfo=UTC)  # Monday 00:00 in Vietnam
    with Session(scratch_engine) as session:
        statuses = dict(
            session.execute(
                select(ObligationPeriod.recurring_id, func.count())
                .where(ObligationPeriod.status == "not_applicable")
                .group_by(ObligationPeriod.recurring_id)
            ).all()
        )
    assert statuses == {skipping: 102}


async def test_the_office_creates_pauses_resumes_and_deletes_a_weekly_schedule(
    api: ApiClient,
) -> None:
    path = "/api/v1/recurring-directives"
    body = {"title": "Hai hoạt động chuyển đổi số mỗi tuần", "body": "Báo cáo hằng tuần.",
            "required_activities": 2}  # fmt: skip
    refused = await api.request("POST", path, json={**body, "communes": ["99999"]})
    assert refused.status_code == 422
    assert (
        await api.request("POST", path, json={**body, "required_activities": 0})
    ).status_code == 422
    leader = await api.token("commune_leader", "24133")
    assert (await api.request("POST", path, token=leader, json=body)).status_code == 403

    created = await api.request("POST", path, json=body)
    assert created.status_code == 201, created.text
    recurring = created.json()
    assert (recurring["communes"], recurring["status"]) == (102, "active")
    handle: ScheduleHandle = api.temporal.get_schedule_handle(recurring["schedule_id"])
    described = await handle.describe()
    assert described.schedule.spec.time_zone_name == "Asia/Ho_Chi_Minh"
    assert described.schedule.state.paused is False

    paused = await api.request("POST", f"{path}/{recurring['id']}/pause")
    assert paused.json()["status"] == "paused"
    assert (await handle.describe()).schedule.state.paused is True
    resumed = await api.request("POST", f"{path}/{recurring['id']}/resume")
    assert resumed.json()["status"] == "active"
    assert (await handle.describe()).schedule.state.paused is False

    # Run the schedule's action now, as on a Monday: the week opens for the 102 communes.
    await handle.trigger()
    periods: list[dict] = []
    for _ in range(300):  # up to 30 s for the worker to open the week
        periods = (await api.request("GET", f"{path}/{recurring['id']}/periods")).json()
        if len(periods) == 102:
            break
        await asyncio.sleep(0.1)
    assert len(periods) == 102 and {p["status"] for p in periods} == {"open"}

    activity = {"title": "Ra mắt tổ công nghệ số cộng đồng", "date": "2026-12-02",
                "link": "https://example.invalid/tin-tuc"}  # fmt: skip
    first = await api.request("POST", f"{path}/{recurring['id']}/activities", token=leader,
                              json=activity)  # fmt: skip
    assert first.status_code == 201, first.text
    assert (first.json()["commune_code"], first.json()["reported"]) == ("24133", 1)
    repeat = await api.request("POST", f"{path}/{recurring['id']}/activities", token=leader,
                               json=activity)  # fmt: skip
    assert repeat.json()["reported"] == 1
    office = await api.request("POST", f"{path}/{recurring['id']}/activities", json=activity)
    assert office.status_code == 403
    own = (await api.request("GET", f"{path}/{recurring['id']}/periods", token=leader)).json()
    assert [(p["commune_code"], p["reported"]) for p in own] == [("24133", 1)]

    deleted = await api.request("DELETE", f"{path}/{recurring['id']}")
    assert deleted.status_code == 204
    with pytest.raises(RPCError):
        await handle.describe()
    assert (await api.request("GET", f"{path}/{recurring['id']}")).status_code == 404


async def test_a_week_run_late_by_the_schedules_catch_up_opens_the_week_it_was_due(
    local_env: WorkflowEnvironment,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    """Workers (or Temporal) away for two weeks: the schedule's run for the Monday two weeks ago
    starts only now (a backfill is the schedule's catch-up on demand). It opens that week, not
    this one; the week ended before anyone could report against it, so it owes nothing."""
    client = local_env.client
    recurring_id = store_recurring(engine)
    now = datetime.now(UTC)
    this_monday, _ = week_of(now)
    due = this_monday - timedelta(weeks=2)
    schedule = schedule_for(recurring_id, Settings(task_queue=task_queue))
    # Ids of the test's own: the tests sharing this server and database make schedules too.
    assert isinstance(schedule.action, ScheduleActionStartWorkflow)
    action = dataclasses.replace(schedule.action, id=f"{task_queue}-period")
    schedule = dataclasses.replace(schedule, action=action, state=ScheduleState(paused=True))
    handle = await client.create_schedule(f"{task_queue}-schedule", schedule)

    async def started_run() -> str:
        actions = (await handle.describe()).info.recent_actions
        runs = [a.action.workflow_id for a in actions
                if isinstance(a.action, ScheduleActionExecutionStartWorkflow)]  # fmt: skip
        assert len(runs) == 1
        return runs[0]

    async def weeks_opened() -> list[tuple[date, date, str, int]]:
        with Session(engine) as session:
            weeks = session.execute(
                select(ObligationPeriod.starts_at, ObligationPeriod.ends_at,
                       ObligationPeriod.status, func.count())
                .where(ObligationPeriod.recurring_id == recurring_id)
                .group_by(ObligationPeriod.starts_at, ObligationPeriod.ends_at,
                          ObligationPeriod.status)
            ).all()  # fmt: skip
        assert weeks
        return [(s.astimezone(VIETNAM).date(), e.astimezone(VIETNAM).date(), status, n)
                for s, e, status, n in weeks]  # fmt: skip

    async with running_worker(client, engine, task_queue, executor):
        await handle.backfill(ScheduleBackfill(start_at=due - timedelta(minutes=1),
                                               end_at=due + timedelta(minutes=1)))  # fmt: skip
        run = client.get_workflow_handle(await eventually(started_run), result_type=PeriodOutcome)
        try:
            weeks = await eventually(weeks_opened)
            monday = due.astimezone(VIETNAM).date()
            assert weeks == [(monday, monday + timedelta(days=7), "not_applicable", 102)]
            outcome = await asyncio.wait_for(run.result(), 30)
        finally:
            await handle.delete()
            if (await run.describe()).status == WorkflowExecutionStatus.RUNNING:
                await run.terminate("the test is over")
    starts = outcome.starts_at.astimezone(VIETNAM)
    assert (starts, starts.isocalendar()[:2]) == (due, due.astimezone(VIETNAM).isocalendar()[:2])
    assert starts.isocalendar()[:2] != now.astimezone(VIETNAM).isocalendar()[:2]
    assert (outcome.met, outcome.missed, outcome.not_applicable) == (0, 0, 102)
