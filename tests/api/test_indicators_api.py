"""The province's indicators over HTTP with real tokens, judged on a fixed day (the clock the
routes read is replaced): three accepted monthly values moving fast enough are green with their
projected date, moving too slowly red with the pace they would need; a commune leader's values
wait for the office and count once accepted; a correction supersedes; the board puts the red
first; the scenario answers both questions and stores nothing; refusals change nothing.

The module keeps a database of its own, emptied of indicators before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.models.indicators import Indicator, IndicatorMilestone, IndicatorValue
from tests.conftest import ApiClient
from tests.indicators.stack import APRIL_10, Clock, emptied, judged_at, own_database

INDICATORS = "/api/v1/indicators"
# 10:00 in Vietnam on 10 April 2026: March is the last month that has ended.
MAY_10 = datetime(2026, 5, 10, 3, 0, tzinfo=UTC)
OFFICE = "steering_office:admin (AXIS_ADMIN_TOKEN)"
OWN, OTHER = "24133", "24121"
# Three month ends of the first quarter of 2026.
MONTH_ENDS = ["2026-01-31", "2026-02-28", "2026-03-31"]


@pytest.fixture(scope="module")
def indicators_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with own_database(database_url, tmp_path_factory, "indicators") as url:
        yield url


@pytest.fixture
def indicators_engine(indicators_database_url: str) -> Iterator[Engine]:
    with emptied(indicators_database_url) as engine:
        yield engine


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    indicators_database_url: str,
    indicators_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    clock: Clock,
) -> AsyncIterator[ApiClient]:
    async with judged_at(
        clock, local_env, indicators_database_url, indicators_engine, task_queue, executor
    ) as client:
        yield client


def indicator(code: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": "Tỷ lệ hồ sơ trực tuyến toàn trình",
        "kind": "percent",
        "direction": "increase",
        "scope": "province",
        "rhythm": "monthly",
        "unit_of_measure": "%",
        "group": "KH02",
        "responsible": "SKHCN",
        "milestones": [{"date": "2026-12-31", "target": 80}, {"date": "2030-12-31", "target": 100}],
    }
    return {**body, **changes}


async def created(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = await api.request("POST", INDICATORS, json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def reported(
    api: ApiClient, code: str, as_of: str, value: float, token: str | None = None, **more: Any
) -> dict[str, Any]:
    answer = await api.request(
        "POST",
        f"{INDICATORS}/{code}/values",
        token=token,
        json={"as_of": as_of, "value": value, **more},
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def status_of(api: ApiClient, code: str, token: str | None = None) -> dict[str, Any]:
    answer = await api.request("GET", f"{INDICATORS}/{code}", token=token)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def series_of(api: ApiClient, code: str, values: list[float]) -> None:
    await created(api, indicator(code))
    for as_of, value in zip(MONTH_ENDS, values, strict=True):
        await reported(api, code, as_of, value)


FIGURES = (
    "colour", "met", "latest_value", "latest_on", "projected_on", "pace_per_month",
    "pace_required_per_month", "days_left", "projected_from", "last_period_reported",
)  # fmt: skip


def figures(series: dict[str, Any]) -> dict[str, Any]:
    return {k: series[k] for k in FIGURES}


async def test_fast_enough_is_green_with_its_date_and_too_slow_is_red_with_the_pace_needed(
    api: ApiClient, clock: Clock
) -> None:
    await series_of(api, "ONLINE", [60, 63, 66])
    await series_of(api, "SLOW", [50, 50.5, 51])

    fast = await status_of(api, "ONLINE")
    assert (fast["today"], fast["colour"], fast["version"]) == ("2026-04-10", "green", 1)
    assert fast["next_milestone"] == {
        "date": "2026-12-31", "target": "80", "target_low": 80.0, "target_high": 80.0,
    }  # fmt: skip
    assert [figures(s) for s in fast["series"]] == [
        {
            "colour": "green", "met": False, "latest_value": 66.0, "latest_on": "2026-03-31",
            # The least-squares line through the three values: 177/1742 a day, 3.0927 a month,
            # reaches 80 on the 197th day after 31 January.
            "projected_on": "2026-08-16", "pace_per_month": 3.0927,
            # 14 points in 265 days (8.7064 months).
            "pace_required_per_month": 1.608, "days_left": 265,
            "projected_from": MONTH_ENDS, "last_period_reported": True,
        }
    ]  # fmt: skip
    assert fast["series"][0]["last_period"] == {"first_day": "2026-03-01", "last_day": "2026-03-31"}
    assert fast["series"][0]["reason_en"] == (
        "projected to reach 80 on 2026-08-16, before the milestone 2026-12-31"
    )
    assert [(v["value"], v["status"], v["counts"], v["reported_by"]) for v in fast["values"]] == [
        (60.0, "accepted", True, OFFICE), (63.0, "accepted", True, OFFICE),
        (66.0, "accepted", True, OFFICE),
    ]  # fmt: skip

    slow = await status_of(api, "SLOW")
    assert slow["colour"] == "red"
    assert figures(slow["series"][0]) == {
        "colour": "red", "met": False, "latest_value": 51.0, "latest_on": "2026-03-31",
        "projected_on": "2030-12-07", "pace_per_month": 0.5154,
        "pace_required_per_month": 3.3309, "days_left": 265,
        "projected_from": MONTH_ENDS, "last_period_reported": True,
    }  # fmt: skip
    assert slow["series"][0]["reason_en"] == (
        "projected to reach 80 on 2030-12-07, after the milestone 2026-12-31; it needs +3.3309 "
        "a month to reach it by 2026-12-31"
    )

    # A month on, April unreported: grey, whatever the trend.
    clock.now = MAY_10
    later = (await status_of(api, "ONLINE"))["series"][0]
    assert (later["colour"], later["last_period_reported"], later["days_left"]) == (
        "grey", False, 235,
    )  # fmt: skip
    assert later["last_period"] == {"first_day": "2026-04-01", "last_day": "2026-04-30"}
    assert later["reason_en"] == "the last reporting period that ended was not reported"


async def test_a_leaders_values_wait_for_verification_and_count_once_accepted(
    api: ApiClient,
) -> None:
    body = indicator("CDS-XA", scope="commune", responsible="UBND xã", group="Tiêu chí xã")
    await created(api, body)
    leader = await api.token("commune_leader", OWN)
    first = await reported(api, "CDS-XA", "2026-01-31", 40, token=leader, evidence="Báo cáo 12")
    assert {k: first[k] for k in ("unit_code", "status", "verified_by", "counts")} == {
        "unit_code": OWN, "status": "submitted", "verified_by": None, "counts": False,
    }  # fmt: skip
    assert first["reported_by"] == f"commune_leader:commune_leader {OWN}"
    second = await reported(api, "CDS-XA", "2026-03-31", 50, token=leader, unit_code=OWN)

    read = await status_of(api, "CDS-XA", token=leader)
    assert read["counts"] == {"red": 0, "yellow": 0, "grey": 102, "green": 0}
    own = next(s for s in read["series"] if s["unit_code"] == OWN)
    assert (own["unit_name"], own["colour"], own["latest_value"]) == (
        "Phường Buôn Ma Thuột", "grey", None,
    )  # fmt: skip

    verify = f"{INDICATORS}/CDS-XA/values"
    accepted = await api.request(
        "POST", f"{verify}/{first['id']}/verify", json={"decision": "accept"}
    )
    assert accepted.status_code == 200, accepted.text
    assert {k: accepted.json()[k] for k in ("status", "verified_by", "counts")} == {
        "status": "accepted", "verified_by": OFFICE, "counts": True,
    }  # fmt: skip
    returned = await api.request(
        "POST",
        f"{verify}/{second['id']}/verify",
        json={"decision": "return", "reason": "Thiếu số liệu"},
    )
    assert returned.status_code == 200, returned.text
    assert (returned.json()["status"], returned.json()["return_reason"]) == (
        "returned", "Thiếu số liệu",
    )  # fmt: skip
    again = await api.request("POST", f"{verify}/{first['id']}/verify", json={"decision": "accept"})
    assert (again.status_code, again.json()["detail"]) == (
        409, f"value {first['id']} is already accepted",
    )  # fmt: skip

    # One accepted value: still too few to project, but it is the latest.
    own = next(s for s in (await status_of(api, "CDS-XA"))["series"] if s["unit_code"] == OWN)
    assert (own["colour"], own["latest_value"], own["latest_on"]) == ("grey", 40.0, "2026-01-31")
    third = await reported(api, "CDS-XA", "2026-03-31", 70, token=leader)
    await api.request("POST", f"{verify}/{third['id']}/verify", json={"decision": "accept"})
    read = await status_of(api, "CDS-XA")
    own = next(s for s in read["series"] if s["unit_code"] == OWN)
    # 30 points in 59 days: past 80 on the 79th day.
    assert figures(own) == {
        "colour": "green", "met": False, "latest_value": 70.0, "latest_on": "2026-03-31",
        "projected_on": "2026-04-20", "pace_per_month": 15.4767,
        "pace_required_per_month": 1.1486, "days_left": 265,
        "projected_from": ["2026-01-31", "2026-03-31"], "last_period_reported": True,
    }  # fmt: skip
    assert read["counts"] == {"red": 0, "yellow": 0, "grey": 101, "green": 1}
    assert read["colour"] == "grey"
    # The commune's own what-if starts from its own latest value: 10 points in 183 days.
    what_if = await api.request(
        "POST",
        f"{INDICATORS}/CDS-XA/scenario",
        token=leader,
        json={"target_date": "2026-09-30", "unit_code": OWN},
    )
    assert {k: what_if.json()[k] for k in ("unit_code", "from_value", "pace_per_month")} == {
        "unit_code": OWN, "from_value": 70.0, "pace_per_month": 1.6633,
    }  # fmt: skip


async def test_a_correction_supersedes_and_the_old_value_stops_counting(api: ApiClient) -> None:
    await series_of(api, "ONLINE", [60, 63, 66])
    values = (await status_of(api, "ONLINE"))["values"]
    march = values[2]["id"]
    same_day = await api.request(
        "POST", f"{INDICATORS}/ONLINE/values", json={"as_of": "2026-03-31", "value": 64}
    )
    assert (same_day.status_code, same_day.json()["detail"]) == (
        409, f"value {march} already counts for 2026-03-31: send a correction that supersedes it",
    )  # fmt: skip
    fix = await reported(api, "ONLINE", "2026-03-31", 64, supersedes=march, note="Sửa số liệu")
    assert (fix["status"], fix["supersedes"], fix["counts"]) == ("accepted", march, True)
    twice = await api.request(
        "POST",
        f"{INDICATORS}/ONLINE/values",
        json={"as_of": "2026-03-31", "value": 65, "supersedes": march},
    )
    assert (twice.status_code, twice.json()["detail"]) == (
        409, f"value {march} is already corrected by value {fix['id']}",
    )  # fmt: skip

    read = await status_of(api, "ONLINE")
    assert [(v["id"], v["value"], v["counts"], v["superseded_by"]) for v in read["values"]] == [
        (values[0]["id"], 60.0, True, None), (values[1]["id"], 63.0, True, None),
        (march, 66.0, False, fix["id"]), (fix["id"], 64.0, True, None),
    ]  # fmt: skip
    # The line through 60, 63, 64: 117/1742 a day, 2.0443 a month, at 80 on the 293rd day.
    assert figures(read["series"][0]) == {
        "colour": "green", "met": False, "latest_value": 64.0, "latest_on": "2026-03-31",
        "projected_on": "2026-11-20", "pace_per_month": 2.0443,
        "pace_required_per_month": 1.8377, "days_left": 265,
        "projected_from": MONTH_ENDS, "last_period_reported": True,
    }  # fmt: skip


async def test_the_board_puts_the_red_first_then_the_yellow_with_exact_counts(
    api: ApiClient,
) -> None:
    await series_of(api, "ONLINE", [60, 63, 66])
    await series_of(api, "SLOW", [50, 50.5, 51])
    # The fast series against 76 by 30 June: reached on 7 July, within one month after.
    await created(api, indicator("SIPAS", milestones=[{"date": "2026-06-30", "target": 76}]))
    for as_of, value in zip(MONTH_ENDS, [60, 63, 66], strict=True):
        await reported(api, "SIPAS", as_of, value)
    # A rank moving the wrong way, due sooner than SLOW; its code sorts after SLOW's, so the
    # order between the two red ones is the days left's.
    par = indicator(
        "XEP-HANG-PAR", kind="rank", direction="decrease", responsible="SNV",
        milestones=[{"date": "2026-09-30", "target": "18-20"}],
    )  # fmt: skip
    await created(api, par)
    for as_of, value in zip(MONTH_ENDS, [30, 30, 31], strict=True):
        await reported(api, "XEP-HANG-PAR", as_of, value)
    await created(api, indicator("ICT", responsible="Phó Chủ tịch UBND tỉnh"))
    await reported(api, "ICT", "2026-03-31", 55)
    await created(api, indicator("OTHER", group="DTI"))

    answer = await api.request("GET", f"{INDICATORS}/board", params={"group": "KH02"})
    assert answer.status_code == 200, answer.text
    board = answer.json()
    assert (board["group"], board["today"]) == ("KH02", "2026-04-10")
    assert board["counts"] == {"red": 2, "yellow": 1, "grey": 1, "green": 1}
    assert [
        (e["code"], e["colour"], e["next_milestone"]["date"], e["next_milestone"]["target"],
         e["days_left"], e["responsible"])
        for e in board["indicators"]
    ] == [
        ("XEP-HANG-PAR", "red", "2026-09-30", "18–20", 173, "SNV"),
        ("SLOW", "red", "2026-12-31", "80", 265, "SKHCN"),
        ("SIPAS", "yellow", "2026-06-30", "76", 81, "SKHCN"),
        ("ICT", "grey", "2026-12-31", "80", 265, "Phó Chủ tịch UBND tỉnh"),
        ("ONLINE", "green", "2026-12-31", "80", 265, "SKHCN"),
    ]  # fmt: skip
    assert [e["code"] for e in board["attention"]] == ["XEP-HANG-PAR", "SLOW", "SIPAS"]
    assert board["indicators"][0]["reason_en"] == (
        # The line through 30, 30, 31: 30/1742 a day; 11 places (to 20) in 173 days.
        "not on course for the target 18–20: moving away from it (+0.5242 a month); it needs "
        "-1.9353 a month to reach it by 2026-09-30"
    )
    everything = (await api.request("GET", f"{INDICATORS}/board")).json()
    assert everything["counts"] == {"red": 2, "yellow": 1, "grey": 2, "green": 1}
    listed = (await api.request("GET", INDICATORS, params={"group": "DTI"})).json()
    assert (listed["count"], [i["code"] for i in listed["data"]]) == (1, ["OTHER"])


async def test_the_scenario_answers_both_questions_and_stores_nothing(
    api: ApiClient, indicators_engine: Engine
) -> None:
    await series_of(api, "ONLINE", [60, 63, 66])
    reader = await api.token("reader")
    scenario = f"{INDICATORS}/ONLINE/scenario"
    before = stored(indicators_engine)

    at_pace = await api.request("POST", scenario, token=reader, json={"pace_per_month": 2})
    assert at_pace.status_code == 200, at_pace.text
    # 14 points at 2 a month: 7 months, 213.06 days after 31 March.
    assert {k: at_pace.json()[k] for k in ("from_value", "from_on", "threshold", "projected_on",
                                           "meets_milestone", "from_baseline")} == {
        "from_value": 66.0, "from_on": "2026-03-31", "threshold": 80.0,
        "projected_on": "2026-10-31", "meets_milestone": True, "from_baseline": False,
    }  # fmt: skip
    by_date = await api.request("POST", scenario, json={"target_date": "2026-09-30"})
    assert by_date.status_code == 200, by_date.text
    # 14 points in 183 days.
    assert (by_date.json()["pace_per_month"], by_date.json()["projected_on"]) == (
        2.3286, "2026-09-30",
    )  # fmt: skip
    away = await api.request("POST", scenario, json={"pace_per_month": -1})
    assert (away.json()["projected_on"], away.json()["meets_milestone"]) == (None, False)

    await created(api, indicator("NEW", baseline_value=40, baseline_on="2025-12-31"))
    from_baseline = await api.request(
        "POST", f"{INDICATORS}/NEW/scenario", json={"target_date": "2026-12-31"}
    )
    assert {k: from_baseline.json()[k] for k in ("from_value", "from_on", "from_baseline",
                                                 "pace_per_month")} == {
        "from_value": 40.0, "from_on": "2025-12-31", "from_baseline": True,
        "pace_per_month": 3.3356,
    }  # fmt: skip
    assert stored(indicators_engine) == (before[0] + 1, before[1] + 2, before[2])


def stored(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (Indicator, IndicatorMilestone, IndicatorValue)
        )


async def test_a_new_milestone_or_direction_makes_a_new_version(api: ApiClient) -> None:
    await created(api, indicator("ONLINE"))
    renamed = await api.request(
        "PATCH", f"{INDICATORS}/ONLINE", json={"name": "Hồ sơ trực tuyến", "group": "DTI"}
    )
    assert (renamed.json()["name"], renamed.json()["group"], renamed.json()["version"]) == (
        "Hồ sơ trực tuyến", "DTI", 1,
    )  # fmt: skip
    kept = await api.request(
        "PATCH",
        f"{INDICATORS}/ONLINE",
        json={
            "milestones": [
                {"date": "2030-12-31", "target": "100"},
                {"date": "2026-12-31", "target": 80},
            ]
        },
    )
    assert kept.json()["version"] == 1
    moved = await api.request(
        "PATCH",
        f"{INDICATORS}/ONLINE",
        json={"milestones": [{"date": "2026-12-31", "target": "79,5–80"}]},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["version"], moved.json()["milestones"]) == (
        2, [{"date": "2026-12-31", "target": "79.5–80", "target_low": 79.5, "target_high": 80.0}],
    )  # fmt: skip
    turned = await api.request("PATCH", f"{INDICATORS}/ONLINE", json={"direction": "decrease"})
    assert turned.json()["version"] == 3


async def test_refusals_answer_403_404_422_and_change_nothing(
    api: ApiClient, indicators_engine: Engine
) -> None:
    await series_of(api, "ONLINE", [60, 63, 66])
    await created(api, indicator("CDS-XA", scope="commune"))
    leader = await api.token("commune_leader", OWN)
    reader = await api.token("reader")
    pending = await reported(api, "CDS-XA", "2026-03-31", 30, token=leader)
    before = stored(indicators_engine)
    board_before = (await api.request("GET", f"{INDICATORS}/board")).json()
    values = f"{INDICATORS}/ONLINE/values"
    commune_values = f"{INDICATORS}/CDS-XA/values"
    bad_target = indicator("X", milestones=[{"date": "2027-01-31", "target": "?"}])
    refusals: list[tuple[str, str, str | None, dict[str, Any] | None, int, str]] = [
        ("POST", INDICATORS, leader, indicator("X"), 403,
         "this action is for the role(s): steering_office"),
        ("PATCH", f"{INDICATORS}/ONLINE", leader, {"name": "X"}, 403,
         "this action is for the role(s): steering_office"),
        ("POST", values, leader, {"as_of": "2026-03-31", "value": 1}, 403,
         "a commune leader reports on commune-scoped indicators only"),
        ("POST", commune_values, leader, {"as_of": "2026-03-30", "value": 1, "unit_code": OTHER},
         403, "a commune leader acts on their own commune only"),
        ("POST", commune_values, reader, {"as_of": "2026-03-30", "value": 1}, 403,
         "the steering office and commune leaders report values"),
        ("POST", f"{commune_values}/{pending['id']}/verify", leader, {"decision": "accept"}, 403,
         "this action is for the role(s): steering_office"),
        ("GET", f"{INDICATORS}/NOSUCH", None, None, 404, "indicator NOSUCH not found"),
        ("POST", f"{INDICATORS}/NOSUCH/values", None, {"as_of": "2026-03-31", "value": 1}, 404,
         "indicator NOSUCH not found"),
        ("POST", f"{values}/{pending['id']}/verify", None, {"decision": "accept"}, 404,
         f"value {pending['id']} of indicator ONLINE not found"),
        ("POST", f"{INDICATORS}/NOSUCH/scenario", None, {"pace_per_month": 1}, 404,
         "indicator NOSUCH not found"),
        ("PATCH", f"{INDICATORS}/NOSUCH", None, {"name": "X"}, 404, "indicator NOSUCH not found"),
        ("POST", INDICATORS, None, indicator("ONLINE"), 409,
         "the code ONLINE is already taken, by Tỷ lệ hồ sơ trực tuyến toàn trình"),
        ("POST", INDICATORS, None, bad_target,
         422, 'milestones.0.target: Value error, "?" is not a target: write a number or a range '
         "such as 51–52"),
        ("POST", INDICATORS, None, indicator("X", kind="rank"), 422,
         "a rank is better when lower: its direction is decrease"),
        ("POST", values, None, {"as_of": "2026-04-01", "value": 120}, 422,
         "a percentage lies between 0 and 100, not 120"),
        ("POST", values, None, {"as_of": "2026-04-11", "value": 70}, 422,
         "a value as of 2026-04-11 is not known yet"),
        ("POST", values, None, {"as_of": "2026-04-01", "value": 70, "unit_code": OWN}, 422,
         "a province's indicator takes no unit_code: its values are the province's"),
        ("POST", commune_values, None, {"as_of": "2026-03-30", "value": 1, "unit_code": "99999"},
         422, "99999 is not a commune of the province"),
        ("POST", f"{commune_values}/{pending['id']}/verify", None, {"decision": "return"}, 422,
         "Value error, a returned value needs a reason the unit can act on"),
        ("POST", f"{INDICATORS}/ONLINE/scenario", None,
         {"pace_per_month": 1, "target_date": "2026-12-31"}, 422,
         "Value error, ask one question: pace_per_month or target_date"),
    ]  # fmt: skip
    for method, path, token, body, status, detail in refusals:
        answer = await api.request(method, path, token=token, json=body)
        assert (answer.status_code, answer.json()["detail"]) == (status, detail), (path, body)
    assert stored(indicators_engine) == before
    assert (await api.request("GET", f"{INDICATORS}/board")).json() == board_before


async def test_figures_and_dates_out_of_range_answer_422_never_500(
    api: ApiClient, indicators_engine: Engine
) -> None:
    await series_of(api, "ONLINE", [60, 63, 66])
    before = stored(indicators_engine)
    values = f"{INDICATORS}/ONLINE/values"
    scenario = f"{INDICATORS}/ONLINE/scenario"
    online = f"{INDICATORS}/ONLINE"
    cases: list[tuple[str, str, str]] = [
        ("POST", values, '{"as_of": "2026-03-01", "value": NaN}'),
        ("POST", values, '{"as_of": "2026-03-01", "value": 1e300}'),
        ("POST", values, '{"as_of": "1999-12-31", "value": 1}'),
        ("POST", values, '{"as_of": "2026-03-01", "value": 1, "supersedes": 99999999999}'),
        ("POST", values, '{"as_of": "2026-03-01", "value": 1, "supersedes": 1000000}'),
        ("POST", f"{values}/99999999999/verify", '{"decision": "accept"}'),
        ("POST", scenario, '{"pace_per_month": Infinity}'),
        ("POST", scenario, '{"target_date": "2026-03-31"}'),
        ("POST", scenario, '{"target_date": "2101-01-01"}'),
        ("POST", scenario, '{"pace_per_month": 1, "unit_code": "24133"}'),
        ("POST", INDICATORS, '{"code": "X", "name": "X", "kind": "count", "baseline_value": -1e13}'
         ),
        ("PATCH", online, '{"milestones": [{"date": "2026-12-31", "target": "2-1"}]}'),
        ("PATCH", online, '{"kind": "rank"}'),
    ]  # fmt: skip
    answers = []
    for method, path, body in cases:
        answer = await api.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
        answers.append(answer.status_code)
    assert answers == [422] * len(cases)
    # A pace too slow to land on a calendar date projects no date.
    crawl = await api.request("POST", scenario, json={"pace_per_month": 1e-300})
    assert (crawl.status_code, crawl.json()["projected_on"]) == (200, None)
    assert stored(indicators_engine) == before


async def test_two_values_accepted_for_one_day_at_once_count_as_the_later_one(
    api: ApiClient, indicators_engine: Engine
) -> None:
    await series_of(api, "ONLINE", [60, 63, 66])
    # What two offices posting for 31 March at the same moment would leave behind.
    with Session(indicators_engine) as session, session.begin():
        session.add(
            IndicatorValue(
                indicator_code="ONLINE", unit_code=None, as_of=datetime(2026, 3, 31).date(),
                value=64, status="accepted", reported_by=OFFICE, reported_at=APRIL_10,
                verified_by=OFFICE, verified_at=APRIL_10,
            )
        )  # fmt: skip
    series = (await status_of(api, "ONLINE"))["series"][0]
    assert (series["latest_value"], series["projected_on"], series["pace_per_month"]) == (
        64.0, "2026-11-20", 2.0443,
    )  # fmt: skip
