"""Reporting on an indicator as a durable process, over HTTP on the dev server: opening a period
of a commune-scoped indicator gives each of the 102 communes a reporting task due at the exact
report-by time, once however often it is opened; a commune's value reports its task, the
office's acceptance completes it and a return returns it; a report after the report-by time
is late; the periods list counts exact figures; a province's indicator opens no tasks and an
agency's is refused.

The routes' clock is set per test: a period of June 2098 is reported by a moment that is still
ahead whenever the test runs, one of January 2026 by a moment already past (the late report),
so no figure depends on the day the test runs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.client import ScheduleSpec
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from config import Settings
from db.engine import make_async_engine
from db.models import Indicator
from services import indicator_reporting
from services.indicator_reporting import AGENCIES_LATER, NO_TASKS_PROVINCE, reconcile_schedules
from tests.api.test_directives_api import eventually
from tests.conftest import ApiClient
from tests.fan_out import until_fanned_out
from tests.indicators.stack import Clock, judged_at
from vocabulary.calendar import VIETNAM
from vocabulary.directives import directive_workflow_id
from vocabulary.indicator_periods import ended_last, indicator_schedule_id, report_by
from vocabulary.indicators import ReportingRhythm
from workflows.indicator_period import IndicatorPeriodWorkflow
from workflows.indicator_period_types import IndicatorPeriodInput

INDICATORS = "/api/v1/indicators"
DIRECTIVES = "/api/v1/directives"
# 10:00 in Vietnam on 1 July 2098: June 2098 is the last month that has ended; it is reported
# by 17:00 on the fifth working day after 30 June, 7 July 2098.
JULY_1_2098 = datetime(2098, 7, 1, 3, 0, tzinfo=UTC)
JUNE_REPORT_BY = "2098-07-07T10:00:00Z"
MAY_REPORT_BY = "2098-06-06T10:00:00Z"
# 10:00 in Vietnam on 10 April 2026; January 2026 was reported by 17:00 on 6 February 2026.
APRIL_10_2026 = datetime(2026, 4, 10, 3, 0, tzinfo=UTC)
JANUARY_REPORT_BY = "2026-02-06T10:00:00Z"
OWN, OTHER, THIRD = "24133", "24121", "24175"


@pytest.fixture
def clock() -> Clock:
    return Clock(JULY_1_2098)


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    clock: Clock,
) -> AsyncIterator[ApiClient]:
    async with judged_at(clock, local_env, database_url, engine, task_queue, executor) as client:
        yield client


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def created_indicator(api: ApiClient, scope: str, **more: Any) -> str:
    # A code of its own: the test database is shared with the other modules.
    code = f"BC-{scope[:2].upper()}-{uuid.uuid4().hex[:8]}"
    body = {
        "code": code,
        "name": "Tỷ lệ hồ sơ trực tuyến toàn trình",
        "kind": "percent",
        "direction": "increase",
        "scope": scope,
        "rhythm": "monthly",
        "unit_of_measure": "%",
        "group": "KH02",
        "responsible": "SKHCN",
        "milestones": [{"date": "2099-12-31", "target": 80}],
        **more,
    }
    answer = await api.request("POST", INDICATORS, json=body)
    assert answer.status_code == 201, answer.text
    return code


async def opened(api: ApiClient, code: str, body: Any = None) -> tuple[dict[str, Any], bool]:
    answer = await api.request("POST", f"{INDICATORS}/{code}/periods", json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result, answer.headers.get("Idempotent-Replayed") == "true"


async def fanned_out(api: ApiClient, directive_id: int) -> None:
    handle = api.temporal.get_workflow_handle(directive_workflow_id(directive_id))
    await until_fanned_out(handle, seconds=60)


async def tasks_of(api: ApiClient, directive_id: int) -> list[dict[str, Any]]:
    answer = await api.request("GET", f"{DIRECTIVES}/{directive_id}/assignments?limit=500")
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


async def task(api: ApiClient, directive_id: int, commune: str) -> dict[str, Any]:
    answer = await api.request("GET", f"{DIRECTIVES}/{directive_id}/assignments/{commune}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def escalated_twice(api: ApiClient, directive_id: int, commune: str) -> dict[str, Any]:
    """The task once its workflow has taken both escalation steps (60 s at most)."""
    give_up = time.monotonic() + 60
    while True:
        current = await task(api, directive_id, commune)
        if current["escalation_level"] == 2 or time.monotonic() > give_up:
            return current
        await asyncio.sleep(0.2)


async def recalled(
    api: ApiClient, directive_id: int, closed: frozenset[str] = frozenset({"cancelled"})
) -> None:
    """A period's directive recalled while the test's worker runs, until its tasks are all
    `closed`. Tasks left open and overdue climb to the steering office, whose attention list
    (the 20 oldest deadlines, web/queries.py) every later test of the session's database
    shares: 20 of them hide a later test's own escalation (tests/web/test_pages_http.py)."""
    answer = await api.request(
        "POST", f"{DIRECTIVES}/{directive_id}/recall", json={"reason": "Kết thúc kiểm thử"}
    )
    assert answer.status_code == 200, answer.text

    async def all_closed() -> None:
        statuses = {t["status"] for t in await tasks_of(api, directive_id)}
        assert statuses == closed, statuses

    await eventually(all_closed, seconds=60)


async def value(
    api: ApiClient, code: str, as_of: str, figure: float, token: str | None = None, **more: Any
) -> dict[str, Any]:
    answer = await api.request(
        "POST",
        f"{INDICATORS}/{code}/values",
        token=token,
        json={"as_of": as_of, "value": figure, **more},
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def verified(api: ApiClient, code: str, value_id: int, **decision: Any) -> dict[str, Any]:
    answer = await api.request(
        "POST", f"{INDICATORS}/{code}/values/{value_id}/verify", json=decision
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def periods(api: ApiClient, code: str) -> dict[str, Any]:
    answer = await api.request("GET", f"{INDICATORS}/{code}/periods")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_a_period_gives_the_102_communes_one_task_each_and_their_values_report_them(
    api: ApiClient,
) -> None:
    code = await created_indicator(api, "commune")
    period, replayed = await opened(api, code)
    assert not replayed
    directive_id = period["directive_id"]
    assert isinstance(directive_id, int)
    assert {k: period[k] for k in ("indicator_code", "period_start", "period_end", "tasks")} == {
        "indicator_code": code,
        "period_start": "2098-06-01",
        "period_end": "2098-06-30",
        "tasks": 102,
    }
    assert utc(period["report_by"]) == utc(JUNE_REPORT_BY)
    assert period["note"] == ""
    await fanned_out(api, directive_id)
    # The directive carries the README's policy: reminded 3 days and 1 day before the
    # report-by time; once late, the official in charge after 2 days, the office after 5.
    directive = await api.request("GET", f"{DIRECTIVES}/{directive_id}")
    assert directive.status_code == 200, directive.text
    policy = {k: directive.json()[k] for k in ("reminder_offsets", "escalation")}
    assert policy == {
        "reminder_offsets": ["P3D", "P1D"],
        "escalation": [
            {"after": "P2D", "to": "official_in_charge"},
            {"after": "P5D", "to": "steering_office"},
        ],
    }
    assert directive.json()["communes_count"] == 102
    assert utc(directive.json()["deadline"]) == utc(JUNE_REPORT_BY)
    tasks = await tasks_of(api, directive_id)
    assert len(tasks) == 102
    assert {utc(t["deadline"]) for t in tasks} == {utc(JUNE_REPORT_BY)}
    assert {t["status"] for t in tasks} == {"notified"}

    # Opened again, by default or by its start: the same period and directive, nothing more.
    again, replayed = await opened(api, code)
    assert replayed and again["directive_id"] == directive_id and again["tasks"] == 102
    by_start, replayed = await opened(api, code, {"period_start": "2098-06-01"})
    assert replayed and by_start["directive_id"] == directive_id
    assert len(await tasks_of(api, directive_id)) == 102
    assert (await periods(api, code))["count"] == 1

    # A commune's value reports its task, with the value named and the evidence carried.
    own = await api.token("commune_leader", OWN)
    own_value = await value(
        api, code, "2098-06-30", 72.5, token=own, evidence="https://example.invalid/bc-06"
    )
    assert own_value["status"] == "submitted"
    reported = await task(api, directive_id, OWN)
    assert reported["status"] == "reported"
    assert reported["timeliness"] == "within_deadline"
    assert "72.5" in reported["report_summary"]
    assert f"(#{own_value['id']})" in reported["report_summary"]
    assert reported["report_evidence"] == ["https://example.invalid/bc-06"]

    # The office accepts the value: the task is completed, on time.
    await verified(api, code, own_value["id"], decision="accept")
    done = await task(api, directive_id, OWN)
    assert (done["status"], done["timeliness"]) == ("completed", "on_time")

    # Another commune's value is returned: so is its task, with the reason.
    other = await api.token("commune_leader", OTHER)
    other_value = await value(api, code, "2098-06-15", 40, token=other)
    assert (await task(api, directive_id, OTHER))["status"] == "reported"
    reason = "thiếu minh chứng số liệu tháng 6"
    await verified(api, code, other_value["id"], decision="return", reason=reason)
    returned = await task(api, directive_id, OTHER)
    assert (returned["status"], returned["review_comment"]) == ("returned", reason)

    # The office's own value for a commune reports and completes that commune's task at once.
    await value(api, code, "2098-06-30", 55, unit_code=THIRD)
    assert (await task(api, directive_id, THIRD))["status"] == "completed"

    # A value outside any opened period touches no task.
    await value(api, code, "2098-05-31", 41, token=other)
    assert (await task(api, directive_id, OTHER))["status"] == "returned"

    # May opens beside June, and the list shows the newest first.
    may, replayed = await opened(api, code, {"period_start": "2098-05-01"})
    assert not replayed and may["directive_id"] != directive_id
    assert (may["period_end"], utc(may["report_by"])) == ("2098-05-31", utc(MAY_REPORT_BY))
    await fanned_out(api, may["directive_id"])
    listed = await periods(api, code)
    assert [p["period_start"] for p in listed["data"]] == ["2098-06-01", "2098-05-01"]
    assert listed["data"][0]["directive_id"] == directive_id
    assert listed["data"][0]["counts"] == {
        "tasks": 102,
        "reported": 2,
        "accepted": 2,
        "late": 0,
        "missing": 100,
    }
    assert listed["data"][1]["counts"] == {
        "tasks": 102,
        "reported": 0,
        "accepted": 0,
        "late": 0,
        "missing": 102,
    }


async def test_a_report_after_the_report_by_time_is_late(api: ApiClient, clock: Clock) -> None:
    clock.now = APRIL_10_2026
    code = await created_indicator(api, "commune")
    # January 2026, opened late: its report-by time has passed, the tasks are overdue at once.
    period, _ = await opened(api, code, {"period_start": "2026-01-01"})
    assert (period["period_start"], period["period_end"]) == ("2026-01-01", "2026-01-31")
    assert utc(period["report_by"]) == utc(JANUARY_REPORT_BY)
    directive_id = period["directive_id"]
    await fanned_out(api, directive_id)

    own = await api.token("commune_leader", OWN)
    late_value = await value(api, code, "2026-01-31", 64, token=own)
    reported = await task(api, directive_id, OWN)
    assert (reported["status"], reported["timeliness"]) == ("reported", "overdue")
    await verified(api, code, late_value["id"], decision="accept")
    done = await task(api, directive_id, OWN)
    assert (done["status"], done["timeliness"]) == ("completed", "late")

    # A commune that has not reported climbs the ladder: the official in charge, then the
    # steering office (both steps long past: they follow at once, in order).
    silent = await escalated_twice(api, directive_id, OTHER)
    assert (silent["status"], silent["timeliness"]) == ("notified", "overdue")
    climbed = [e["detail"] for e in silent["events"] if e["kind"] == "escalated"]
    assert climbed == [
        {"level": "1", "to": "official_in_charge"},
        {"level": "2", "to": "steering_office"},
    ]
    assert [e["kind"] for e in silent["events"]].count("overdue") == 1

    listed = await periods(api, code)
    assert listed["data"][0]["counts"] == {
        "tasks": 102,
        "reported": 1,
        "accepted": 1,
        "late": 1,
        "missing": 101,
    }

    # Recalled: its 101 open tasks, escalated to the office since January, would otherwise
    # fill the office's attention list that every later test of the session's database shares.
    await recalled(api, directive_id, frozenset({"cancelled", "completed"}))


def fires(spec: ScheduleSpec) -> tuple[list[tuple[int, int]], ...]:
    """(days of the month, months, hours) the schedule fires on, as the engine keeps a cron."""
    (calendar,) = spec.calendars
    return tuple(
        [(r.start, r.end) for r in ranges]
        for ranges in (calendar.day_of_month, calendar.month, calendar.hour)
    )


async def test_a_commune_indicator_has_a_schedule_whose_run_opens_the_period_ended_last_once(
    api: ApiClient, task_queue: str, database_url: str
) -> None:
    code = await created_indicator(api, "commune")
    schedule = api.temporal.get_schedule_handle(indicator_schedule_id(code))
    described = await schedule.describe()
    assert described.schedule.state.note == f"indicator {code}: opens each monthly period"
    assert fires(described.schedule.spec) == ([(1, 1)], [(1, 12)], [(0, 0)])
    assert described.schedule.spec.time_zone_name == "Asia/Ho_Chi_Minh"
    changed = await api.request("PATCH", f"{INDICATORS}/{code}", json={"rhythm": "quarterly"})
    assert changed.status_code == 200, changed.text
    described = await schedule.describe()
    assert described.schedule.state.note == f"indicator {code}: opens each quarterly period"
    assert fires(described.schedule.spec) == (
        [(1, 1)],
        [(1, 1), (4, 4), (7, 7), (10, 10)],
        [(0, 0)],
    )

    # A run started by hand opens the quarter that ended last before it started, as the
    # schedule's run would; a second run finds it opened.
    before = datetime.now(VIETNAM).date()
    runs = []
    for attempt in range(2):
        runs.append(
            await api.temporal.execute_workflow(
                IndicatorPeriodWorkflow.run,
                IndicatorPeriodInput(indicator_code=code),
                id=f"indicator-period-{code}-{attempt}",
                task_queue=task_queue,
            )
        )
    after = datetime.now(VIETNAM).date()
    first, second = runs
    assert (first.created, first.tasks, second.created, second.tasks) == (True, 102, False, 102)
    assert first.directive_id == second.directive_id
    expected = {ended_last(ReportingRhythm.QUARTERLY, day) for day in (before, after)}
    start, end = ended_last(ReportingRhythm.QUARTERLY, after)
    assert (first.period_start, first.period_end) == (start.isoformat(), end.isoformat())
    assert (start, end) in expected
    # The period's directive plans its 102 tasks after the run returns: counted once it has.
    assert first.directive_id is not None
    await fanned_out(api, first.directive_id)
    assert len(await tasks_of(api, first.directive_id)) == 102
    listed = await periods(api, code)
    assert listed["count"] == 1
    assert listed["data"][0]["opened_by"] == indicator_schedule_id(code)
    assert utc(listed["data"][0]["report_by"]) == report_by(end)
    assert listed["data"][0]["counts"]["tasks"] == 102
    # The quarter that ended last is reported by the fifth working day after it: past for most
    # of the year, its 102 tasks overdue at once, climbing to the office until recalled.
    await recalled(api, first.directive_id)

    # A province's indicator has no schedule: its periods give no tasks.
    province = await created_indicator(api, "province")
    with pytest.raises(RPCError):
        await api.temporal.get_schedule_handle(indicator_schedule_id(province)).describe()

    # A schedule lost (an engine restored without it) is made again by the reconciler, once.
    await schedule.delete()
    settings = cast(Settings, SimpleNamespace(task_queue=task_queue))
    engine = make_async_engine(database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            made = await reconcile_schedules(session, api.temporal, settings)
            again = await reconcile_schedules(session, api.temporal, settings)
    finally:
        await engine.dispose()
    assert made[code] == "made" and code not in again and province not in made
    described = await schedule.describe()
    assert described.schedule.state.note == f"indicator {code}: opens each quarterly period"
    await schedule.delete()


async def test_the_reconciler_follows_a_rhythm_changed_while_it_runs(
    api: ApiClient, task_queue: str, database_url: str, engine: Engine
) -> None:
    """The reconciler runs at every API start and asks the engine about every indicator in
    turn. An office that changes a rhythm after the reconciler read the indicator, and before
    it reached its schedule, keeps its change: the schedule ends by following the stored row,
    not the row read before it. Before, it was set back to the old rhythm (one CI run, where
    the test above changed a rhythm just as its API started)."""
    code = await created_indicator(api, "commune")
    schedule = api.temporal.get_schedule_handle(indicator_schedule_id(code))
    real = indicator_reporting.keep_schedule
    changed: list[str] = []
    # This test's reconciler only: the API's own, at its start, may still be running.
    ours = asyncio.current_task()

    async def changed_meanwhile(client: Any, settings: Any, at: str, *fields: str) -> str:
        if at == code and not changed and asyncio.current_task() is ours:
            # The office's change commits, and sets the schedule, just before this call.
            with engine.begin() as connection:
                connection.execute(
                    update(Indicator).where(Indicator.code == code).values(rhythm="quarterly")
                )
            await real(client, settings, code, "commune", "quarterly")
            changed.append(code)
        return await real(client, settings, at, *fields)

    settings = cast(Settings, SimpleNamespace(task_queue=task_queue))
    async_engine = make_async_engine(database_url)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(indicator_reporting, "keep_schedule", changed_meanwhile)
            async with async_sessionmaker(async_engine, expire_on_commit=False)() as session:
                done = await reconcile_schedules(session, api.temporal, settings)
    finally:
        await async_engine.dispose()
    assert changed == [code]
    assert done[code] == "updated"
    described = await schedule.describe()
    assert described.schedule.state.note == f"indicator {code}: opens each quarterly period"
    await schedule.delete()


async def test_a_province_indicator_opens_no_tasks_and_an_agency_one_is_refused(
    api: ApiClient,
) -> None:
    province = await created_indicator(api, "province")
    period, replayed = await opened(api, province)
    assert not replayed
    assert (period["directive_id"], period["tasks"], period["note"]) == (
        None,
        0,
        NO_TASKS_PROVINCE,
    )
    again, replayed = await opened(api, province)
    assert replayed and again["period_start"] == "2098-06-01"
    listed = await periods(api, province)
    assert listed["count"] == 1
    assert listed["data"][0]["counts"] == {
        "tasks": 0,
        "reported": 0,
        "accepted": 0,
        "late": 0,
        "missing": 0,
    }

    agency = await created_indicator(api, "agency")
    refused = await api.request("POST", f"{INDICATORS}/{agency}/periods")
    assert (refused.status_code, refused.json()) == (409, {"detail": AGENCIES_LATER})
    assert (await periods(api, agency))["count"] == 0

    # A period must start where the rhythm's periods start; only the office opens one.
    odd = await api.request(
        "POST", f"{INDICATORS}/{province}/periods", json={"period_start": "2098-06-15"}
    )
    assert odd.status_code == 422, odd.text
    leader = await api.token("commune_leader", OWN)
    forbidden = await api.request("POST", f"{INDICATORS}/{province}/periods", token=leader)
    assert forbidden.status_code == 403
    assert (await periods(api, province))["count"] == 1
