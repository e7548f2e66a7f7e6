"""The commune criteria board over HTTP with real tokens, judged on fixed days (the indicators'
clock is replaced). A group of three commune criteria:

- XA-01, yes/no, milestone 2026-12-31;
- XA-02, a share that must rise: 50 by 2026-06-30, then 80 by 2026-12-31;
- XA-03, a share that must fall to the range 5–10 by 2026-12-31 (met at 10 or less);
and, in the same group, a province's own indicator, which is no criterion.

Values, all accepted by the office unless said otherwise:
- A: XA-01 1; XA-02 40 (28 Feb), 55 (31 Mar); XA-03 8 → 3 met, fully green.
- B: XA-01 1; XA-02 60; XA-03 12, corrected to 9 → 3 met, fully green.
- C: XA-01 0; XA-02 30 (28 Feb), 45 (31 Mar); XA-03 7 → 1 met.
- D: XA-01 1 from its leader, waiting for the office; XA-02 52; XA-03 14 (28 Feb), 15 → 1 met.
- E: XA-01 1; XA-02 50 (the target exactly) → 2 met.
Judged on 10 April 2026 (milestone in force for XA-02: 50 on 30 June; March is the last month
ended): ranks A 1, B 1, E 3, C 4, D 4, the 97 others 6; two fully green; per criterion 3, 4, 3.
Colours are the series' own: met with one value is grey (no trend yet), C's XA-02 is green on
pace (projected to reach 50 on 11 April), D's XA-03 red (moving away), C's XA-01 yellow.
Judged on 10 July 2026 the milestone in force for XA-02 is 80 on 31 December: nobody meets it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from tests.conftest import ApiClient
from tests.indicators.stack import Clock, emptied, judged_at, own_database

INDICATORS = "/api/v1/indicators"
CRITERIA = f"{INDICATORS}/criteria"
GROUP = "Tiêu chí xã (thử)"
# 10:00 in Vietnam.
JULY_10 = datetime(2026, 7, 10, 3, 0, tzinfo=UTC)
A, B, C, D, E = "24121", "24133", "24163", "24175", "22015"
FEB, MAR = "2026-02-28", "2026-03-31"


@pytest.fixture(scope="module")
def criteria_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with own_database(database_url, tmp_path_factory, "criteria") as url:
        yield url


@pytest.fixture
def criteria_engine(criteria_database_url: str) -> Iterator[Engine]:
    with emptied(criteria_database_url) as engine:
        yield engine


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    criteria_database_url: str,
    criteria_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    clock: Clock,
) -> AsyncIterator[ApiClient]:
    async with judged_at(
        clock, local_env, criteria_database_url, criteria_engine, task_queue, executor
    ) as client:
        yield client


def criterion(
    code: str, kind: str, milestones: list[dict[str, Any]], **more: Any
) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"Tiêu chí {code}",
        "kind": kind,
        "scope": "commune",
        "rhythm": "monthly",
        "group": GROUP,
        "milestones": milestones,
        **more,
    }


async def created(api: ApiClient, body: dict[str, Any]) -> None:
    answer = await api.request("POST", INDICATORS, json=body)
    assert answer.status_code == 201, answer.text


async def reported(
    api: ApiClient, code: str, unit: str, as_of: str, value: float, **more: Any
) -> dict[str, Any]:
    token = more.pop("token", None)
    answer = await api.request(
        "POST",
        f"{INDICATORS}/{code}/values",
        token=token,
        json={"unit_code": unit, "as_of": as_of, "value": value, **more},
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def board(api: ApiClient, token: str | None = None, **params: str) -> dict[str, Any]:
    answer = await api.request("GET", CRITERIA, token=token, params={"group": GROUP, **params})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def the_group(api: ApiClient) -> str:
    """The group and its values as the module's docstring tells; D's leader's token."""
    await created(api, criterion("XA-01", "yes_no", [{"date": "2026-12-31", "target": 1}]))
    await created(
        api,
        criterion(
            "XA-02",
            "percent",
            [{"date": "2026-06-30", "target": 50}, {"date": "2026-12-31", "target": 80}],
        ),
    )
    await created(
        api,
        criterion(
            "XA-03", "percent", [{"date": "2026-12-31", "target": "5–10"}], direction="decrease"
        ),
    )
    province = criterion("XA-00", "percent", [{"date": "2026-12-31", "target": 90}])
    await created(api, {**province, "scope": "province"})
    for unit in (A, B, E):
        await reported(api, "XA-01", unit, MAR, 1)
    await reported(api, "XA-01", C, MAR, 0)
    leader = await api.token("commune_leader", D)
    waiting = await reported(api, "XA-01", D, MAR, 1, token=leader)
    assert waiting["status"] == "submitted"
    for unit, first, last in ((A, 40, 55), (C, 30, 45)):
        await reported(api, "XA-02", unit, FEB, first)
        await reported(api, "XA-02", unit, MAR, last)
    for unit, value in ((B, 60), (D, 52), (E, 50)):
        await reported(api, "XA-02", unit, MAR, value)
    for unit, value in ((A, 8), (C, 7)):
        await reported(api, "XA-03", unit, MAR, value)
    wrong = await reported(api, "XA-03", B, MAR, 12)
    await reported(api, "XA-03", B, MAR, 9, supersedes=wrong["id"])
    await reported(api, "XA-03", D, FEB, 14)
    await reported(api, "XA-03", D, MAR, 15)
    return leader


def cells(row: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(c["code"], c["value"], c["as_of"], c["met"], c["colour"]) for c in row["cells"]]


async def test_the_board_counts_the_criteria_met_ranks_the_communes_and_totals_them(
    api: ApiClient, clock: Clock
) -> None:
    leader = await the_group(api)
    body = await board(api)

    assert (body["group"], body["today"], body["count"]) == (GROUP, "2026-04-10", 102)
    assert [
        (c["code"], c["kind"], c["direction"], c["milestone"]["date"], c["milestone"]["target"])
        for c in body["criteria"]
    ] == [
        ("XA-01", "yes_no", "increase", "2026-12-31", "1"),
        ("XA-02", "percent", "increase", "2026-06-30", "50"),
        ("XA-03", "percent", "decrease", "2026-12-31", "5–10"),
    ]
    rows = {r["commune_code"]: r for r in body["communes"]}
    assert len(rows) == 102
    assert cells(rows[A]) == [
        ("XA-01", 1, MAR, True, "green"),
        ("XA-02", 55, MAR, True, "green"),
        ("XA-03", 8, MAR, True, "grey"),
    ]
    # B's 12 was corrected to 9: the correction counts.
    assert cells(rows[B]) == [
        ("XA-01", 1, MAR, True, "green"),
        ("XA-02", 60, MAR, True, "grey"),
        ("XA-03", 9, MAR, True, "grey"),
    ]
    assert cells(rows[C]) == [
        ("XA-01", 0, MAR, False, "yellow"),
        ("XA-02", 45, MAR, False, "green"),
        ("XA-03", 7, MAR, True, "grey"),
    ]
    # D's leader's 1 waits for the office: it counts for nothing yet.
    assert cells(rows[D]) == [
        ("XA-01", None, None, False, "grey"),
        ("XA-02", 52, MAR, True, "grey"),
        ("XA-03", 15, MAR, False, "red"),
    ]
    assert cells(rows[E]) == [
        ("XA-01", 1, MAR, True, "green"),
        ("XA-02", 50, MAR, True, "grey"),
        ("XA-03", None, None, False, "grey"),
    ]
    others = [r for code, r in rows.items() if code not in (A, B, C, D, E)]
    assert {tuple(c[1:] for c in cells(r)) for r in others} == {((None, None, False, "grey"),) * 3}

    ranking = [
        (r["commune_code"], r["rank"], r["met"], r["of"], r["fully_green"])
        for r in body["communes"]
    ]
    assert ranking[:5] == [
        (A, 1, 3, 3, True),
        (B, 1, 3, 3, True),
        (E, 3, 2, 3, False),
        (C, 4, 1, 3, False),
        (D, 4, 1, 3, False),
    ]
    assert {(rank, met, green) for _, rank, met, _, green in ranking[5:]} == {(6, 0, False)}
    # Ties are listed by commune code.
    assert [code for code, *_ in ranking[5:]] == sorted(code for code, *_ in ranking[5:])
    assert body["totals"] == {
        "communes": 102,
        "fully_green": 2,
        "met_by_criterion": {"XA-01": 3, "XA-02": 4, "XA-03": 3},
    }

    # A commune leader sees their own row, ranked among all, and the province's totals.
    own = await board(api, token=leader)
    assert own["count"] == 1
    assert [(r["commune_code"], r["rank"], r["met"]) for r in own["communes"]] == [(D, 4, 1)]
    assert own["communes"][0] == rows[D]
    assert own["totals"] == body["totals"]
    # Any other role reads the whole board.
    reader = await api.token("reader")
    assert (await board(api, token=reader))["count"] == 102

    # Once the office accepts D's 1, it counts.
    read = await api.request("GET", f"{INDICATORS}/XA-01")
    waiting = next(v for v in read.json()["values"] if v["status"] == "submitted")
    verified = await api.request(
        "POST", f"{INDICATORS}/XA-01/values/{waiting['id']}/verify", json={"decision": "accept"}
    )
    assert verified.status_code == 200, verified.text
    after = {r["commune_code"]: r for r in (await board(api))["communes"]}
    assert (after[D]["met"], after[D]["rank"], after[C]["rank"]) == (2, 3, 5)
    assert cells(after[D])[0] == ("XA-01", 1, MAR, True, "green")

    # On 10 July the milestone in force for XA-02 is 80 on 31 December: nobody meets it.
    clock.now = JULY_10
    july = await board(api)
    assert july["criteria"][1]["milestone"]["target"] == "80"
    assert july["totals"] == {
        "communes": 102,
        "fully_green": 0,
        "met_by_criterion": {"XA-01": 4, "XA-02": 0, "XA-03": 3},
    }
    assert [(r["commune_code"], r["rank"], r["met"]) for r in july["communes"][:5]] == [
        (A, 1, 2),
        (B, 1, 2),
        (E, 3, 1),
        (C, 3, 1),
        (D, 3, 1),
    ]


async def test_a_group_without_commune_criteria_answers_404_and_no_group_422(
    api: ApiClient,
) -> None:
    await created(
        api,
        {**criterion("KH-01", "percent", [{"date": "2026-12-31", "target": 90}]),
         "scope": "province", "group": "Kế hoạch 02"},
    )  # fmt: skip
    province_only = await api.request("GET", CRITERIA, params={"group": "Kế hoạch 02"})
    assert province_only.status_code == 404, province_only.text
    assert "no commune-scoped indicator" in province_only.json()["detail"]
    unknown = await api.request("GET", CRITERIA, params={"group": "Không có"})
    assert unknown.status_code == 404, unknown.text
    for params in ({}, {"group": ""}):
        refused = await api.request("GET", CRITERIA, params=params)
        assert refused.status_code == 422, (params, refused.text)
