"""The province's units over HTTP with real tokens: every signed-in role lists and reads the 25
seeded units, the steering office adds and changes them, and a taken code, a written form
another unit or a commune uses, a code that is not one, or a commune leader's change is refused
with nothing changed.

The module keeps a database of its own, seeded afresh before each test: other suites' requests
(the fuzzing test posts units) must not change the figures these tests count."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine
from db.models import Unit as UnitRow
from db.units import load_units
from tests.conftest import ApiClient, api_app, fresh_database

UNITS = "/api/v1/units"
SEEDED = [
    # Departments
    "SCT", "SDTTG", "SGDDT", "SKHCN", "SNNMT", "SNV", "STC", "STP", "SVHTTDL", "SXD", "SYT",
    "TTT", "VPUBND",
    # Other provincial bodies
    "BCHQS", "BQLKKT", "CAT", "TKT", "UBMTTQ", "VPDDBQH",
    # Party bodies
    "BNCTU", "BTCTU", "BTGDVTU", "DUUBND", "UBKTTU", "VPTU",
]  # fmt: skip
NEW_UNIT = {
    "code": "SNGV",
    "kind": "department",
    "name": "Sở Ngoại vụ",
    "abbreviations": ["Sở NgV", "SNGV"],
    "note": "not in Dak Lak's list; added by the office",
}


@pytest.fixture(scope="module")
def units_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of the module's own on the session's backend."""
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path_factory.mktemp("units")) as url:
        yield url


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    units_database_url: str,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[ApiClient]:
    """The `api` fixture of the suite, on the module's database, its units as seeded."""
    engine = make_engine(units_database_url)
    with Session(engine) as session, session.begin():
        session.execute(delete(UnitRow))
    assert load_units(engine) == 25
    opened = api_app(local_env, units_database_url, engine, task_queue, executor)
    async with opened as (client, _):
        yield client
    engine.dispose()


async def listed(api: ApiClient, token: str | None = None, **params: Any) -> dict[str, Any]:
    answer = await api.request("GET", UNITS, token=token, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_every_signed_in_role_lists_the_25_units(api: ApiClient) -> None:
    leader = await api.token("commune_leader", "24133")
    reader = await api.token("reader")
    for token in (None, leader, reader):
        units = await listed(api, token)
        assert units["count"] == 25
        assert [u["code"] for u in units["data"]] == SEEDED
    counts = {
        k: (await listed(api, kind=k))["count"] for k in ("department", "provincial_body", "party")
    }
    assert counts == {"department": 13, "provincial_body": 6, "party": 6}
    assert (await listed(api, active="true"))["count"] == 25
    assert (await listed(api, active="false"))["count"] == 0
    answer = await api.request("GET", f"{UNITS}/SKHCN", token=leader)
    assert answer.status_code == 200, answer.text
    unit = answer.json()
    assert {k: unit[k] for k in ("code", "kind", "name", "abbreviations", "head_email")} == {
        "code": "SKHCN",
        "kind": "department",
        "name": "Sở Khoa học và Công nghệ",
        "abbreviations": ["Sở KH&CN", "SKHCN"],
        "head_email": None,
    }
    assert unit["active"] is True
    missing = await api.request("GET", f"{UNITS}/NOSUCH")
    assert (missing.status_code, missing.json()) == (404, {"detail": "unit NOSUCH not found"})
    bad_kind = await api.request("GET", UNITS, params={"kind": "agency"})
    assert bad_kind.status_code == 422
    assert (await api.request("GET", UNITS, token="not-a-token")).status_code == 401


async def test_the_office_adds_reads_and_changes_a_unit(api: ApiClient) -> None:
    created = await api.request("POST", UNITS, json=NEW_UNIT)
    assert created.status_code == 201, created.text
    unit = created.json()
    assert {k: unit[k] for k in (*NEW_UNIT, "head_email", "active")} == {
        **NEW_UNIT,
        "head_email": None,
        "active": True,
    }
    assert unit["created_at"] == unit["updated_at"]
    read = await api.request("GET", f"{UNITS}/SNGV")
    assert read.json() == unit
    assert (await listed(api))["count"] == 26
    assert (await listed(api, kind="department"))["count"] == 14

    changes = {
        "name": "Sở Ngoại vụ tỉnh",
        "abbreviations": ["SNgV", "SNgV"],
        "head_email": " Giam.Doc@SoNgoaiVu.example.invalid ",
        "active": False,
    }
    patched = await api.request("PATCH", f"{UNITS}/SNGV", json=changes)
    assert patched.status_code == 200, patched.text
    unit = patched.json()
    assert {k: unit[k] for k in ("code", "kind", "name", "abbreviations", "note")} == {
        "code": "SNGV",
        "kind": "department",
        "name": "Sở Ngoại vụ tỉnh",
        "abbreviations": ["SNgV"],
        "note": NEW_UNIT["note"],
    }
    assert (unit["head_email"], unit["active"]) == ("giam.doc@songoaivu.example.invalid", False)
    assert datetime.fromisoformat(unit["updated_at"]) > datetime.fromisoformat(unit["created_at"])
    assert (await api.request("GET", f"{UNITS}/SNGV")).json() == unit
    assert (await listed(api, active="true"))["count"] == 25
    assert [u["code"] for u in (await listed(api, active="false"))["data"]] == ["SNGV"]

    # A head removed with null; a kind changed; what is left out stays.
    patched = await api.request(
        "PATCH", f"{UNITS}/SNGV", json={"head_email": None, "kind": "provincial_body"}
    )
    assert patched.status_code == 200, patched.text
    assert {k: patched.json()[k] for k in ("kind", "name", "head_email", "active")} == {
        "kind": "provincial_body",
        "name": "Sở Ngoại vụ tỉnh",
        "head_email": None,
        "active": False,
    }


async def test_a_taken_code_or_written_form_is_refused_and_nothing_changes(
    api: ApiClient,
) -> None:
    before = await listed(api)
    refusals: list[tuple[str, str, dict[str, Any], int, str]] = [
        (
            "POST", UNITS, {**NEW_UNIT, "code": "SNV"}, 409,
            "the code SNV is already taken, by Sở Nội vụ",
        ),
        (
            "POST", UNITS, {**NEW_UNIT, "abbreviations": ["SNV"]}, 409,
            '"SNV" is written for both Sở Nội vụ (SNV) and Sở Ngoại vụ (SNGV); '
            "keep it for one of them only",
        ),
        (
            "PATCH", f"{UNITS}/STP", {"abbreviations": ["STP", "Sở Tài chính tỉnh"]}, 409,
            '"Sở Tài chính tỉnh" is written for both Sở Tài chính (STC) and Sở Tư pháp (STP); '
            "keep it for one of them only",
        ),
        (
            "PATCH", f"{UNITS}/SYT", {"name": "Sở Khoa học & Công nghệ"}, 409,
            '"Sở Khoa học & Công nghệ" is written for both Sở Khoa học và Công nghệ (SKHCN) and '
            "Sở Khoa học & Công nghệ (SYT); keep it for one of them only",
        ),
        (
            "POST", UNITS, {**NEW_UNIT, "abbreviations": ["phường Buôn Ma Thuột"]}, 409,
            '"Phường Buôn Ma Thuột" is written for both Sở Ngoại vụ (SNGV) and '
            "Phường Buôn Ma Thuột (24133); keep it for one of them only",
        ),
        (
            "POST", UNITS, {**NEW_UNIT, "name": "Các sở, ban, ngành"}, 409,
            '"Các sở, ban, ngành" is written for both the collective "Các sở, ban, ngành" and '
            "Các sở, ban, ngành (SNGV); keep it for one of them only",
        ),
        (
            "POST", UNITS, {**NEW_UNIT, "code": "sngv"}, 422,
            '"sngv" is not a unit code: a unit\'s code is 2 to 8 capital letters or digits, '
            "starting with a letter",
        ),
        (
            "POST", UNITS, {**NEW_UNIT, "code": "24133"}, 422,
            '"24133" is not a unit code: a unit\'s code is 2 to 8 capital letters or digits, '
            "starting with a letter",
        ),
        (
            "POST", UNITS, {**NEW_UNIT, "kind": "agency"}, 422,
            "kind: Input should be 'department', 'provincial_body' or 'party'",
        ),
        (
            "POST", UNITS, {**NEW_UNIT, "abbreviations": ["SNGV; SNV"]}, 422,
            'abbreviations.0: Value error, "SNGV; SNV" holds ";" or a line break, which '
            "separate units in a plan",
        ),
        (
            "PATCH", f"{UNITS}/SNV", {"name": None}, 422,
            "Value error, name cannot be null; leave it out to keep it",
        ),
        (
            "PATCH", f"{UNITS}/SNV", {"head_email": "giam-doc"}, 422,
            'head_email: Value error, "giam-doc" is not an email address',
        ),
        ("PATCH", f"{UNITS}/NOSUCH", {"note": "?"}, 404, "unit NOSUCH not found"),
    ]  # fmt: skip
    for method, path, body, status, detail in refusals:
        answer = await api.request(method, path, json=body)
        assert (answer.status_code, answer.json()["detail"]) == (status, detail), body
    assert await listed(api) == before


async def test_a_commune_leader_may_read_but_not_change_units(api: ApiClient) -> None:
    before = await listed(api)
    leader = await api.token("commune_leader", "24133")
    created = await api.request("POST", UNITS, token=leader, json=NEW_UNIT)
    assert created.status_code == 403, created.text
    patched = await api.request(
        "PATCH", f"{UNITS}/SNV", token=leader, json={"head_email": "leader@example.invalid"}
    )
    assert patched.status_code == 403, patched.text
    assert (await api.request("GET", f"{UNITS}/SNGV")).status_code == 404
    assert await listed(api) == before
