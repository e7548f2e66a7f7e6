"""Plans of tasks over HTTP with real tokens: the office creates a plan, imports the 66-task
appendix of a plan implementing Resolution 57-NQ/TW (a dry run first, which stores nothing),
adds a task, lists the tasks by group, lead unit and leader, and exports the plan as an .xlsx;
a broken file, a file imported twice, bad input and a commune leader's writes are refused with
nothing stored.

The module keeps a database of its own, its plans removed before each test, so the counts are
the tests' own."""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine
from db.models.plans import Plan, PlanTask, PlanTaskPartner, PlanTaskUnit
from services.plan_sheet import EXPORT_COLUMNS
from services.sheets import NOT_A_WORKBOOK
from tests.conftest import ApiClient, api_app, fresh_database
from tests.plans import plan_appendix as appendix

PLANS = "/api/v1/plans"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PLAN = {
    "code": "125/KH-UBND",
    "title": "Kế hoạch thực hiện Nghị quyết số 57-NQ/TW",
    "issued_on": "2026-03-02",
    "source": "Nghị quyết số 57-NQ/TW",
}
# The headers of the broken appendix's columns, as it writes them.
TITLE, LEAD, PRODUCT, DUE, CODE, STATUS = (
    "Nội dung nhiệm vụ",
    "Cơ quan chủ trì",
    "Sản phẩm",
    "Thời gian hoàn thành",
    "STT",
    "Tình trạng",
)
NOT_A_DEADLINE = (
    "'Cuối năm 2026' is not a deadline: write a date (31/12/2026), a month (Tháng 5/2026), a "
    "quarter (Quý II/2026), a half (6 tháng đầu năm 2026), a year (Năm 2026), a range "
    "(2027-2028) or a period (Thường xuyên, Hằng năm)"
)
# Each task BROKEN changes, by its column and message, in the sheet's order.
BROKEN_ERRORS = {
    3: [(TITLE, "No task: write what is to be done")],
    5: [(LEAD, "No lead unit: name the unit or commune that leads the task")],
    12: [
        (
            LEAD,
            'No unit of the province leads the task, only partners outside it ("Viettel Đắk '
            'Lắk", "VNPT Đắk Lắk"): name a unit or commune of the province to lead it',
        )
    ],
    20: [(DUE, NOT_A_DEADLINE)],
    25: [
        (PRODUCT, "No product: write what the task delivers (a decision, a plan, a database…)"),
        (DUE, "'Quý V/2026': there is no quarter V"),
    ],
    40: [(CODE, "The code 39 is already the code of the task in row 48")],
    50: [
        (
            STATUS,
            '"Tạm dừng" is not a status: write one of Chưa triển khai, Đang thực hiện, Hoàn thành',
        )
    ],
}
TASK = {
    "code": "67",
    "group": "NGUỒN NHÂN LỰC",
    "title": "Tổ chức hội thi tin học trẻ",
    "leader_in_charge": "Phó Chủ tịch UBND tỉnh phụ trách văn hóa - xã hội",
    "lead_units": ["SGDDT", "24133"],
    "co_units": ["SKHCN", "SGDDT"],
    "product": "Báo cáo kết quả hội thi",
    "due": "Quý III/2026",
    "authority": "UBND tỉnh",
    "source": "Nghị quyết số 57-NQ/TW",
    "implements": "57-NQ/TW:III.6",
}


@pytest.fixture(scope="module")
def plans_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of the module's own on the session's backend."""
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path_factory.mktemp("plans")) as url:
        yield url


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    plans_database_url: str,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[ApiClient]:
    """The `api` fixture of the suite, on the module's database, with no plan stored."""
    engine = make_engine(plans_database_url)
    with Session(engine) as session, session.begin():
        for table in (PlanTaskPartner, PlanTaskUnit, PlanTask, Plan):
            session.execute(delete(table))
    opened = api_app(local_env, plans_database_url, engine, task_queue, executor)
    async with opened as (client, _):
        yield client
    engine.dispose()


async def created_plan(api: ApiClient, **changes: Any) -> int:
    answer = await api.request("POST", PLANS, json={**PLAN, **changes})
    assert answer.status_code == 201, answer.text
    plan_id: int = answer.json()["id"]
    return plan_id


async def imported(
    api: ApiClient, plan_id: int, content: bytes, dry_run: bool = False, token: str | None = None
) -> Any:
    return await api.request(
        "POST",
        f"{PLANS}/{plan_id}/import",
        token=token,
        params={"dry_run": "true"} if dry_run else {},
        files={"file": ("phu-luc.xlsx", content, XLSX)},
    )


def sheet_of(*rows: tuple[object, ...]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def tasks_of(api: ApiClient, plan_id: int, **params: Any) -> dict[str, Any]:
    answer = await api.request("GET", f"{PLANS}/{plan_id}/tasks", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_the_office_creates_lists_and_reads_plans(api: ApiClient) -> None:
    created = await api.request("POST", PLANS, json=PLAN)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert {k: plan[k] for k in (*PLAN, "task_count")} == {**PLAN, "task_count": 0}
    assert plan["created_by"] == "steering_office:admin (AXIS_ADMIN_TOKEN)"
    later = await created_plan(api, code="7/KH-BCĐ", issued_on="2026-05-04")
    reader = await api.token("reader")
    listed = await api.request("GET", PLANS, token=reader)
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["data"]] == [later, plan["id"]]
    assert listed.json()["count"] == 2
    read = await api.request("GET", f"{PLANS}/{plan['id']}", token=reader)
    assert read.json() == plan
    again = await api.request("POST", PLANS, json={**PLAN, "title": "Một kế hoạch khác"})
    assert (again.status_code, again.json()["detail"]) == (
        409,
        f"the code 125/KH-UBND is already the code of plan {plan['id']}",
    )
    missing = await api.request("GET", f"{PLANS}/999999")
    assert (missing.status_code, missing.json()) == (404, {"detail": "plan 999999 not found"})
    assert (await api.request("GET", f"{PLANS}/999999/tasks")).status_code == 404
    assert (await api.request("GET", PLANS, token="not-a-token")).status_code == 401
    assert (await api.request("GET", PLANS, token=reader)).json()["count"] == 2


async def test_a_dry_run_reports_the_66_tasks_and_stores_nothing(api: ApiClient) -> None:
    plan_id = await created_plan(api)
    answer = await imported(api, plan_id, appendix.appendix_xlsx(), dry_run=True)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["dry_run"], report["stored"], report["errors"]) == (True, 0, [])
    assert report["task_count"] == len(report["tasks"]) == 66
    assert [t["code"] for t in report["tasks"]] == [str(n) for n in range(1, 67)]
    # 66 tasks, 7 of them with two lead units and one led by the 102 communes.
    assert report["lead_unit_count"] == 173
    # Co-ordinating units, a unit that also leads the task counted as a lead unit only.
    assert report["co_unit_count"] == 1704
    assert report["outside"] == list(appendix.OUTSIDE_PARTNERS)
    tasks = {t["code"]: t for t in report["tasks"]}
    assert tasks["4"]["row"] == appendix.task_row(4)
    assert tasks["4"]["lead_units"] == [
        {"code": "SKHCN", "name": "Sở Khoa học và Công nghệ"},
        {"code": "SCT", "name": "Sở Công Thương"},
    ]
    assert len(tasks["48"]["lead_units"]) == 102
    assert tasks["12"]["co_partners"] == ["Viettel Đắk Lắk", "VNPT Đắk Lắk"]
    assert {k: tasks["53"][k] for k in ("due", "milestones", "recurrence", "final_due")} == {
        "due": "Tháng 01 và tháng 12/2026",
        "milestones": ["2026-01-31", "2026-12-31"],
        "recurrence": None,
        "final_due": "2026-12-31",
    }
    assert {k: tasks["21"][k] for k in ("due", "milestones", "recurrence", "final_due")} == {
        "due": "Thường xuyên, đến năm 2030",
        "milestones": [],
        "recurrence": {"every": "quarter", "until_year": 2030},
        "final_due": "2030-12-31",
    }
    assert (await tasks_of(api, plan_id))["count"] == 0
    assert (await api.request("GET", f"{PLANS}/{plan_id}")).json()["task_count"] == 0


async def test_an_import_stores_the_66_tasks_as_drafts(
    api: ApiClient, figure: Callable[[str], None]
) -> None:
    plan_id = await created_plan(api)
    started = time.perf_counter()
    answer = await imported(api, plan_id, appendix.appendix_xlsx())
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["dry_run"], report["stored"], report["errors"]) == (False, 66, [])
    figure(
        f"66 tasks, {report['lead_unit_count']} lead units, {len(report['outside'])} outside "
        f"partners imported in {elapsed * 1000:.0f} ms"
    )
    tasks = await tasks_of(api, plan_id)
    assert tasks["count"] == 66
    data = tasks["data"]
    assert {t["status"] for t in data} == {"draft"}
    assert {t["progress"] for t in data} == {None}
    assert sum(len(t["lead_units"]) for t in data) == 173
    assert sum(len(t["co_units"]) for t in data) == 1704
    leads = Counter(u["code"] for t in data for u in t["lead_units"])
    assert leads.most_common(4) == [("SKHCN", 16), ("SNV", 7), ("VPUBND", 6), ("CAT", 4)]
    by_code = {t["code"]: t for t in data}
    assert {c: by_code[c]["final_due"] for c in ("1", "3", "4", "12", "40", "48", "60")} == {
        "1": "2026-06-30",  # Quý II/2026
        "3": "2026-06-30",  # 30/6/2026
        "4": "2027-12-31",  # Năm 2027
        "12": "2026-12-31",  # Quý IV/2026
        "40": "2026-12-31",  # Tháng 12/2026
        "48": "2026-06-30",  # Quý II/2026, the 102 communes
        "60": None,  # Hằng năm
    }
    assert by_code["60"]["recurrence"] == {"every": "year", "until_year": None}
    assert by_code["53"]["lead_units"] == [
        {"code": "24133", "name": "Phường Buôn Ma Thuột"},
        {"code": "24490", "name": by_code["53"]["lead_units"][1]["name"]},
    ]
    assert by_code["60"]["co_partners"] == ["Trường Chính trị tỉnh"]
    assert (await tasks_of(api, plan_id, lead_unit="SKHCN"))["count"] == 16
    assert (await tasks_of(api, plan_id, lead_unit="24133"))["count"] == 2
    assert (await tasks_of(api, plan_id, group="HẠ TẦNG SỐ"))["count"] == 11
    assert (
        await tasks_of(api, plan_id, leader_in_charge="Phó Chủ tịch UBND tỉnh phụ trách kinh tế")
    )["count"] == 26
    assert (await api.request("GET", f"{PLANS}/{plan_id}")).json()["task_count"] == 66


async def test_the_broken_file_lists_each_error_and_is_refused_whole(api: ApiClient) -> None:
    plan_id = await created_plan(api)
    expected = [
        {"row": appendix.task_row(code), "column": column, "message": message}
        for code in sorted(appendix.BROKEN)
        for column, message in BROKEN_ERRORS[code]
    ]
    assert len(expected) == 8
    dry = await imported(api, plan_id, appendix.broken_appendix_xlsx(), dry_run=True)
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["errors"] == expected
    assert (report["task_count"], report["stored"]) == (66 - 7, 0)
    refused = await imported(api, plan_id, appendix.broken_appendix_xlsx())
    assert refused.status_code == 422, refused.text
    assert refused.json() == {
        "detail": "the file has 8 errors; nothing was stored: correct them and send it again",
        "state": {"errors": expected},
    }
    assert (await tasks_of(api, plan_id))["count"] == 0


async def test_importing_the_same_file_again_refuses_every_code(api: ApiClient) -> None:
    plan_id = await created_plan(api)
    assert (await imported(api, plan_id, appendix.appendix_xlsx())).json()["stored"] == 66
    before = await tasks_of(api, plan_id)
    again = await imported(api, plan_id, appendix.appendix_xlsx())
    assert again.status_code == 422, again.text
    errors = again.json()["state"]["errors"]
    assert errors == [
        {
            "row": appendix.task_row(n),
            "column": CODE,
            "message": f"The plan already has a task {n}: nothing replaced",
        }
        for n in range(1, 67)
    ]
    assert await tasks_of(api, plan_id) == before
    # Another plan takes the same codes.
    other = await created_plan(api, code="8/KH-UBND")
    assert (await imported(api, other, appendix.appendix_xlsx())).json()["stored"] == 66


async def test_the_export_opens_with_every_task_and_its_status(api: ApiClient) -> None:
    plan_id = await created_plan(api)
    assert (await imported(api, plan_id, appendix.appendix_xlsx())).json()["stored"] == 66
    added = await api.request("POST", f"{PLANS}/{plan_id}/tasks", json=TASK)
    assert added.status_code == 201, added.text
    reader = await api.token("reader")
    answer = await api.request(
        "GET", f"{PLANS}/{plan_id}/export", token=reader, params={"format": "xlsx"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    assert answer.headers["content-disposition"] == (
        'attachment; filename="ke-hoach-125-KH-UBND.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(answer.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [header for header, _ in EXPORT_COLUMNS]
    assert len(rows) == 1 + 67
    assert [row[0] for row in rows[1:]] == list(range(1, 68))
    assert Counter(row[10] for row in rows[1:]) == {"Chưa triển khai": 67}
    first = rows[1]
    assert first[4] == "Sở Khoa học và Công nghệ"
    assert first[7] == "Quý II/2026"
    task_12 = rows[12]
    assert task_12[5] == "Viettel Đắk Lắk; VNPT Đắk Lắk"
    assert rows[67][4] == "Sở Giáo dục và Đào tạo; Phường Buôn Ma Thuột"
    assert rows[67][5] == "Sở Khoa học và Công nghệ"
    # The export reads back as a plan under way.
    other = await created_plan(api, code="9/KH-UBND")
    back = (await imported(api, other, answer.content, dry_run=True)).json()
    assert (back["task_count"], back["errors"]) == (67, [])
    assert (back["lead_unit_count"], back["co_unit_count"]) == (173 + 2, 1704 + 1)
    assert back["outside"] == list(appendix.OUTSIDE_PARTNERS)
    assert {t["progress"] for t in back["tasks"]} == {"not_started"}
    bad = await api.request("GET", f"{PLANS}/{plan_id}/export", params={"format": "pdf"})
    assert bad.status_code == 422


async def test_the_office_adds_one_task(api: ApiClient) -> None:
    plan_id = await created_plan(api)
    answer = await api.request("POST", f"{PLANS}/{plan_id}/tasks", json=TASK)
    assert answer.status_code == 201, answer.text
    task = answer.json()
    assert {k: task[k] for k in ("code", "group", "implements", "status", "progress")} == {
        "code": "67",
        "group": "NGUỒN NHÂN LỰC",
        "implements": "57-NQ/TW:III.6",
        "status": "draft",
        "progress": None,
    }
    assert task["lead_units"] == [
        {"code": "SGDDT", "name": "Sở Giáo dục và Đào tạo"},
        {"code": "24133", "name": "Phường Buôn Ma Thuột"},
    ]
    # A lead unit named again among the co-ordinating ones leads only.
    assert task["co_units"] == [{"code": "SKHCN", "name": "Sở Khoa học và Công nghệ"}]
    assert (task["due"], task["milestones"], task["final_due"]) == (
        "Quý III/2026",
        ["2026-09-30"],
        "2026-09-30",
    )
    dated = await api.request(
        "POST", f"{PLANS}/{plan_id}/tasks", json={**TASK, "code": "68", "due": "2026-11-15"}
    )
    assert dated.status_code == 201, dated.text
    assert (dated.json()["milestones"], dated.json()["final_due"]) == (
        ["2026-11-15"],
        "2026-11-15",
    )
    listed = await tasks_of(api, plan_id)
    assert [t["code"] for t in listed["data"]] == ["67", "68"]
    assert listed["data"][0] == task


async def test_bad_input_is_refused_and_changes_nothing(api: ApiClient) -> None:
    plan_id = await created_plan(api)
    assert (await api.request("POST", f"{PLANS}/{plan_id}/tasks", json=TASK)).status_code == 201
    before = await tasks_of(api, plan_id)
    tasks = f"{PLANS}/{plan_id}/tasks"
    refusals: list[tuple[str, dict[str, Any], int, str]] = [
        (
            tasks, {**TASK, "code": "69", "lead_units": ["SKHCN", "NOSUCH"], "co_units": ["99999"]},
            422, "no unit or commune has the code NOSUCH, 99999",
        ),
        (
            tasks, {**TASK, "code": "69", "due": "Cuối năm 2026"}, 422,
            f"due: {NOT_A_DEADLINE}",
        ),
        (tasks, {**TASK, "code": "69", "due": "2026-02-30"}, 422,
         "due: '2026-02-30' is not a date: day is out of range for month"),
        (tasks, TASK, 409, "the plan already has a task 67"),
        (tasks, {**TASK, "code": "69", "lead_units": []}, 422,
         "lead_units: List should have at least 1 item after validation, not 0"),
        (tasks, {**TASK, "code": "69", "status": "issued"}, 422,
         "status: Extra inputs are not permitted"),
        (f"{PLANS}/999999/tasks", TASK, 404, "plan 999999 not found"),
        (PLANS, {**PLAN, "code": "9/KH", "issued_on": "2026-13-01"}, 422,
         "issued_on: Input should be a valid date or datetime, month value is outside expected "
         "range of 1-12"),
    ]  # fmt: skip
    for path, body, status, detail in refusals:
        answer = await api.request("POST", path, json=body)
        assert (answer.status_code, answer.json()["detail"]) == (status, detail), body
    not_a_workbook = await imported(api, plan_id, b"STT,Nhiem vu\n1,Ban hanh\n")
    assert not_a_workbook.status_code == 422
    assert not_a_workbook.json()["state"]["errors"] == [
        {
            "row": 0,
            "column": "",
            "message": "The file is not an Excel workbook (.xlsx): open it in a spreadsheet "
            "and save it as .xlsx",
        }
    ]
    without_code = await imported(
        api,
        plan_id,
        sheet_of(
            ("Mã", "Nhiệm vụ", "Cơ quan chủ trì", "Sản phẩm", "Thời hạn"),
            (None, "Ban hành quy chế", "SNV", "Quyết định", "Quý II/2026"),
            ("9" * 41, "Ban hành quy chế", "SNV", "Quyết định", "Quý II/2026"),
        ),
    )
    assert without_code.status_code == 422
    assert without_code.json()["state"]["errors"] == [
        {"row": 2, "column": "Mã", "message": "No code: number the task, so reports can name it"},
        {"row": 3, "column": "Mã", "message": "The cell holds 41 characters; at most 40 fit"},
    ]
    no_file = await api.request("POST", f"{PLANS}/{plan_id}/import")
    assert no_file.status_code == 422
    assert (await imported(api, 999999, appendix.appendix_xlsx())).status_code == 404
    assert await tasks_of(api, plan_id) == before
    assert (await api.request("GET", PLANS)).json()["count"] == 1


async def test_a_commune_leader_may_read_but_not_write(api: ApiClient) -> None:
    plan_id = await created_plan(api)
    leader = await api.token("commune_leader", "24133")
    writes = [
        await api.request("POST", PLANS, token=leader, json={**PLAN, "code": "10/KH"}),
        await api.request("POST", f"{PLANS}/{plan_id}/tasks", token=leader, json=TASK),
        await imported(api, plan_id, appendix.appendix_xlsx(), token=leader),
        await imported(api, plan_id, appendix.appendix_xlsx(), dry_run=True, token=leader),
    ]
    assert [w.status_code for w in writes] == [403, 403, 403, 403]
    reads = [
        await api.request("GET", PLANS, token=leader),
        await api.request("GET", f"{PLANS}/{plan_id}", token=leader),
        await api.request("GET", f"{PLANS}/{plan_id}/tasks", token=leader),
        await api.request("GET", f"{PLANS}/{plan_id}/export", token=leader),
    ]
    assert [r.status_code for r in reads] == [200, 200, 200, 200]
    assert reads[0].json()["count"] == 1
    assert (await tasks_of(api, plan_id))["count"] == 0


async def test_a_spreadsheet_over_the_64_kib_body_limit_is_read_and_one_over_5_mib_refused(
    api: ApiClient,
) -> None:
    plan_id = await created_plan(api)
    # 100 KB that is no workbook: read (and found unreadable), not refused for its size.
    large = await imported(api, plan_id, b"x" * 100_000, dry_run=True)
    assert large.status_code == 200, large.text
    assert large.json()["errors"] == [{"row": 0, "column": "", "message": NOT_A_WORKBOOK}]
    too_large = await imported(api, plan_id, b"x" * (5 * 1024 * 1024 + 64 * 1024 + 1))
    assert too_large.status_code == 413, too_large.text
    assert (await tasks_of(api, plan_id))["count"] == 0
