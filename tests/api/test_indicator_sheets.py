"""The working group's focus indicators to and from the offices' spreadsheet over HTTP with real
tokens, judged on a fixed day (the clock the routes read is replaced): a dry run answers what
would be created and stores nothing; the import creates the five indicators with their kind,
direction, lead unit and milestones, and they appear on the board of their group; the same
sheet again changes nothing, a changed one updates only that indicator (a new version); a broken
sheet answers 422 naming every bad cell and stores nothing; the export reads back with the
import's columns and each indicator's status, worst first.

The module keeps a database of its own, emptied of indicators before each test."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.models.indicators import Indicator, IndicatorMilestone
from services.sheets import NOT_A_WORKBOOK
from tests.conftest import ApiClient
from tests.indicators import focus_indicators as focus
from tests.indicators.stack import Clock, emptied, judged_at, own_database

INDICATORS = "/api/v1/indicators"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# 10:00 in Vietnam on 10 April 2026: the first quarter is the last reporting period ended, and
# 265 days are left to 31 December 2026.
GDP, ONLINE, SIPAS, PAR, ICT = (f"{focus.PREFIX}-{n}" for n in range(1, 6))
# The day of the latest values, as openpyxl reads a date cell back.
MARCH_31 = datetime(2026, 3, 31)


def milestone(day: str, low: float, high: float | None = None) -> dict[str, Any]:
    high = low if high is None else high
    text = f"{low:g}" if low == high else f"{low:g}–{high:g}"
    return {"date": day, "target": text, "target_low": low, "target_high": high}


# What the sheet holds, indicator by indicator: (code, kind, direction, lead unit, baseline,
# milestones, data partners).
EXPECTED = [
    (
        GDP,
        "percent",
        "increase",
        "SKHCN",
        None,
        [milestone("2026-12-31", 14), milestone("2030-12-31", 30)],
        ["TKT", "STC"],
    ),
    (
        ONLINE,
        "percent",
        "increase",
        "VPUBND",
        None,
        [milestone("2026-12-31", 80), milestone("2030-12-31", 100)],
        ["SKHCN", "Trung tâm Phục vụ hành chính công tỉnh"],
    ),
    (
        SIPAS,
        "percent",
        "increase",
        "SNV",
        None,
        [milestone("2026-12-31", 98), milestone("2030-12-31", 98)],
        ["VPUBND"],
    ),
    # Up at least three places from 12th: the rank 9 by the end of 2026.
    (PAR, "rank", "decrease", "SNV", 12.0, [milestone("2026-12-31", 9)], None),
    (ICT, "percent", "increase", "SGDDT", None, [milestone("2030-12-31", 70)], ["SNV", "TKT"]),
]
RANK_TARGET = "Tăng ít nhất 3 bậc"
NOT_A_TARGET = (
    '"khoảng 14%" is not a target: write a number (14%, ≥ 80%, Duy trì ≥ 98%), a range '
    "(51–52), a rank (Hạng 10, Tăng ít nhất 3 bậc) or Đạt"
)
M2026, M2030, LEAD, STT = "Đến hết năm 2026", "Đến năm 2030", "Đơn vị chủ trì", "STT"
BROKEN_ERRORS = [
    {"row": 4, "column": "Chỉ tiêu", "message": "No indicator: write what is measured"},
    {"row": 4, "column": M2026, "message": NOT_A_TARGET},
    {"row": 5, "column": M2026, "message": "A percentage lies between 0 and 100"},
    {
        "row": 6,
        "column": M2026,
        "message": "A rise of 3 places counts from the current rank: write it under "
        "Hiện trạng năm 2025",
    },
    {
        "row": 6,
        "column": LEAD,
        "message": '"Viettel Đắk Lắk" is not a unit of the province: write its name or code',
    },
    {
        "row": 7,
        "column": "",
        "message": "No target: write the target under at least one milestone",
    },
    {
        "row": 8,
        "column": STT,
        "message": f"The code {ONLINE} is already the code of row 5",
    },
]
EXPORT_HEADER = [
    "STT",
    "Mã chỉ tiêu",
    "Nhóm",
    "Chỉ tiêu",
    "Đơn vị tính",
    "Hiện trạng",
    "Đến hết năm 2026",
    "Đến hết năm 2030",
    "Đơn vị chủ trì",
    "Đơn vị phối hợp, cung cấp số liệu",
    "Kỳ báo cáo",
    "Mức độ",
    "Dự kiến đạt",
    "Tốc độ hiện tại (/tháng)",
    "Tốc độ cần thiết (/tháng)",
    "Giá trị gần nhất",
    "Ngày số liệu",
    "Số ngày đến mốc tiếp theo",
]


@pytest.fixture(scope="module")
def sheets_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with own_database(database_url, tmp_path_factory, "indicator_sheets") as url:
        yield url


@pytest.fixture
def sheets_engine(sheets_database_url: str) -> Iterator[Engine]:
    with emptied(sheets_database_url) as engine:
        yield engine


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    sheets_database_url: str,
    sheets_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[ApiClient]:
    async with judged_at(
        Clock(), local_env, sheets_database_url, sheets_engine, task_queue, executor
    ) as client:
        yield client


async def imported(
    api: ApiClient,
    content: bytes,
    dry_run: bool = False,
    group: str | None = focus.GROUP,
    token: str | None = None,
) -> Any:
    params: dict[str, str] = {"group": group} if group is not None else {}
    if dry_run:
        params["dry_run"] = "true"
    return await api.request(
        "POST",
        f"{INDICATORS}/import",
        token=token,
        params=params,
        files={"file": ("chi-tieu.xlsx", content, XLSX)},
    )


def stored_counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        indicators = session.scalar(select(func.count()).select_from(Indicator))
        milestones = session.scalar(select(func.count()).select_from(IndicatorMilestone))
    return indicators or 0, milestones or 0


def summary(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (
        entry["code"],
        entry["kind"],
        entry["direction"],
        entry["responsible"],
        entry["baseline_value"],
        entry["milestones"],
    )


async def test_a_dry_run_answers_what_would_be_created_and_stores_nothing(
    api: ApiClient, sheets_engine: Engine
) -> None:
    answer = await imported(api, focus.workbook(), dry_run=True)

    assert answer.status_code == 200, answer.text
    report = answer.json()
    counts = (report["dry_run"], report["stored"], report["created"], report["updated"])
    assert counts == (True, 0, 5, 0)
    assert report["errors"] == []
    assert [summary(e) for e in report["indicators"]] == [e[:6] for e in EXPECTED]
    assert [e["row"] for e in report["indicators"]] == [5, 6, 7, 8, 9]
    assert [e["partners"] for e in report["indicators"] if e["code"] != PAR] == [
        e[6] for e in EXPECTED if e[0] != PAR
    ]
    assert stored_counts(sheets_engine) == (0, 0)


async def test_the_focus_indicators_are_imported_and_appear_on_their_board(
    api: ApiClient, sheets_engine: Engine
) -> None:
    answer = await imported(api, focus.workbook())

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["stored"], report["created"], report["unchanged"]) == (5, 5, 0)
    # Five indicators, eight milestones.
    assert stored_counts(sheets_engine) == (5, 8)
    listed = (await api.request("GET", INDICATORS, params={"group": focus.GROUP})).json()
    assert listed["count"] == 5
    by_code = {i["code"]: i for i in listed["data"]}
    for code, kind, direction, lead, baseline, milestones, _ in EXPECTED:
        stored = by_code[code]
        assert (stored["kind"], stored["direction"], stored["responsible"]) == (
            kind,
            direction,
            lead,
        )
        assert (stored["baseline_value"], stored["milestones"]) == (baseline, milestones)
        assert (stored["scope"], stored["rhythm"], stored["version"]) == (
            "province",
            "quarterly",
            1,
        )
    assert by_code[PAR]["baseline_on"] == "2025-12-31"
    assert by_code[PAR]["unit_of_measure"] == "Hạng"

    board = (await api.request("GET", f"{INDICATORS}/board", params={"group": focus.GROUP})).json()
    # Nothing reported yet: all five grey, the 2026 milestones first (265 days left) by code,
    # then the one whose next milestone is 2030.
    assert board["counts"] == {"red": 0, "yellow": 0, "grey": 5, "green": 0}
    assert [(e["code"], e["days_left"]) for e in board["indicators"]] == [
        (GDP, 265),
        (ONLINE, 265),
        (SIPAS, 265),
        (PAR, 265),
        (ICT, 1726),
    ]


async def test_the_same_sheet_again_changes_nothing_and_a_changed_row_is_a_new_version(
    api: ApiClient, sheets_engine: Engine
) -> None:
    assert (await imported(api, focus.workbook())).status_code == 200
    before = (await api.request("GET", INDICATORS)).json()

    again = await imported(api, focus.workbook())

    assert again.status_code == 200, again.text
    report = again.json()
    assert (report["stored"], report["created"], report["updated"], report["unchanged"]) == (
        0,
        0,
        0,
        5,
    )
    assert (await api.request("GET", INDICATORS)).json() == before

    rows = [list(r) for r in focus.ROWS]
    rows[2][4] = "≥ 85%"  # the online dossiers' 2026 target raised
    changed = await imported(api, focus.workbook(rows))

    report = changed.json()
    assert (report["stored"], report["updated"], report["unchanged"]) == (1, 1, 4)
    assert [(e["code"], e["changed"]) for e in report["indicators"] if e["action"] == "update"] == [
        (ONLINE, ["milestones"])
    ]
    online = (await api.request("GET", f"{INDICATORS}/{ONLINE}")).json()
    assert (online["version"], online["milestones"][0]["target"]) == (2, "85")
    assert stored_counts(sheets_engine) == (5, 8)


async def test_a_broken_sheet_answers_every_bad_cell_and_stores_nothing(
    api: ApiClient, sheets_engine: Engine
) -> None:
    answer = await imported(api, focus.broken_workbook())

    assert answer.status_code == 422, answer.text
    assert answer.json() == {
        "detail": "the file has 7 errors; nothing was stored: correct them and send it again",
        "state": {"errors": BROKEN_ERRORS},
    }
    assert stored_counts(sheets_engine) == (0, 0)

    dry = (await imported(api, focus.broken_workbook(), dry_run=True)).json()
    assert (dry["stored"], dry["errors"]) == (0, BROKEN_ERRORS)
    assert stored_counts(sheets_engine) == (0, 0)


async def test_a_code_of_another_group_is_refused_and_nothing_is_stored(
    api: ApiClient, sheets_engine: Engine
) -> None:
    assert (await imported(api, focus.workbook())).status_code == 200
    # The same initials, another group: its row 1 would take the digital economy's code.
    answer = await imported(api, focus.workbook(), group="Tổ Công tác: Chỉ tiêu Tổng thể")

    assert answer.status_code == 422
    errors = answer.json()["state"]["errors"]
    assert len(errors) == 5
    assert errors[0] == {
        "row": 5,
        "column": "",
        "message": f'The code {GDP} is the indicator "Tỷ trọng kinh tế số trong GRDP của '
        f'tỉnh" of the group "{focus.GROUP}": give this row its own code under Mã chỉ tiêu',
    }
    assert stored_counts(sheets_engine) == (5, 8)


async def test_only_the_office_imports_and_a_group_is_needed(api: ApiClient) -> None:
    reader = await api.token("reader")
    refused = await imported(api, focus.workbook(), token=reader)
    assert refused.status_code == 403

    without_group = await imported(api, focus.workbook(), group=None)
    assert without_group.status_code == 422
    errors = without_group.json()["state"]["errors"]
    assert errors[0] == {
        "row": 5,
        "column": "",
        "message": "No group: give the group with the file, or write it under Nhóm",
    }
    assert len(errors) == 5

    in_the_form = await api.request(
        "POST",
        f"{INDICATORS}/import",
        data={"group": focus.GROUP},
        params={"dry_run": "true"},
        files={"file": ("chi-tieu.xlsx", focus.workbook(), XLSX)},
    )
    assert (in_the_form.status_code, in_the_form.json()["created"]) == (200, 5)


async def test_the_export_reads_back_with_the_status_worst_first(api: ApiClient) -> None:
    assert (await imported(api, focus.workbook())).status_code == 200
    # The office's figures: the online dossiers climb fast enough for 80 % by the end of 2026,
    # the digital economy too slowly for 14 %.
    figures: dict[str, list[tuple[str, float]]] = {
        ONLINE: [("2025-12-31", 60), ("2026-03-31", 66)],
        GDP: [("2025-12-31", 8), ("2026-03-31", 8.5)],
    }
    for code, values in figures.items():
        for as_of, value in values:
            answer = await api.request(
                "POST", f"{INDICATORS}/{code}/values", json={"as_of": as_of, "value": value}
            )
            assert answer.status_code == 201, answer.text
    reader = await api.token("reader")

    answer = await api.request(
        "GET", f"{INDICATORS}/export", token=reader, params={"group": focus.GROUP}
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    assert (
        'filename="chi-tieu-to-cong-tac-chi-tieu-trong-tam.xlsx"'
        in (answer.headers["content-disposition"])
    )
    sheet = load_workbook(io.BytesIO(answer.content)).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == EXPORT_HEADER
    assert [r[1] for r in rows[1:]] == [GDP, SIPAS, PAR, ICT, ONLINE]
    status = {r[1]: tuple(r[11:]) for r in rows[1:]}
    # 0.5 point in the 90 days to 31 March is 0.1691 a month, which reaches 14 % on 15/12/2028;
    # 14 % by 31/12/2026 needs 0.6317 a month from today. The online dossiers climb 2.0292 a
    # month and reach 80 % on 27/10/2026, before the milestone.
    assert status[GDP] == ("Đỏ", datetime(2028, 12, 15), 0.1691, 0.6317, 8.5, MARCH_31, 265)
    assert status[ONLINE] == ("Xanh", datetime(2026, 10, 27), 2.0292, 1.608, 66, MARCH_31, 265)
    for code in (GDP, ONLINE):
        series = (await api.request("GET", f"{INDICATORS}/{code}")).json()["series"][0]
        assert status[code][2:4] == (
            series["pace_per_month"],
            series["pace_required_per_month"],
        )
    assert status[PAR] == ("Xám", None, None, None, None, None, 265)
    assert status[ICT] == ("Xám", None, None, None, None, None, 1726)
    par = next(r for r in rows[1:] if r[1] == PAR)
    assert par[:11] == [
        3,
        PAR,
        focus.GROUP,
        "Chỉ số cải cách hành chính (PAR Index) của tỉnh",
        "Hạng",
        12,
        "Hạng 9",
        None,
        "Sở Nội vụ",
        None,
        "Hằng quý",
    ]
    assert next(r for r in rows[1:] if r[1] == SIPAS)[6:8] == ["≥ 98%", "≥ 98%"]

    # The export imports again as the same indicators: nothing changes.
    again = (await imported(api, answer.content)).json()
    assert again.get("state") is None, again
    assert (again["errors"], again["unchanged"], again["stored"]) == ([], 5, 0)


async def test_a_sheet_over_the_64_kib_body_limit_is_read_and_one_over_5_mib_refused(
    api: ApiClient, sheets_engine: Engine
) -> None:
    # 100 KB that is no workbook: read (and found unreadable), not refused for its size.
    large = await imported(api, b"x" * 100_000, dry_run=True)
    assert large.status_code == 200, large.text
    assert large.json()["errors"] == [{"row": 0, "column": "", "message": NOT_A_WORKBOOK}]
    too_large = await imported(api, b"x" * (5 * 1024 * 1024 + 64 * 1024 + 1))
    assert too_large.status_code == 413, too_large.text
    assert stored_counts(sheets_engine) == (0, 0)
