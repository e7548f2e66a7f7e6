"""A plan's tasks read from the office's spreadsheet and written back: the 66-task appendix of a
plan implementing Resolution 57-NQ/TW read whole, its broken copy refused with each error at its
row and column, headers found however they are written, and the export read back."""

from __future__ import annotations

import io
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from services.plan_sheet import (
    EXPORT_COLUMNS,
    PROGRESS_LABELS,
    PlanSheet,
    PlanSheetExportRow,
    TaskProgress,
    TaskRow,
    read_plan_sheet,
    write_plan_sheet,
)
from services.sheets import NOT_A_WORKBOOK, SheetError, cell_text, header_key
from tests.plans import plan_appendix as appendix
from vocabulary.deadline_text import Recurrence, ReportEvery
from vocabulary.directives import Timeliness
from vocabulary.unit_names import Collective, UnitDirectory

GROUP_TITLES = (
    "HOÀN THIỆN THỂ CHẾ",
    "HẠ TẦNG SỐ",
    "CHUYỂN ĐỔI SỐ TRONG CƠ QUAN NHÀ NƯỚC",
    "KINH TẾ SỐ",
    "XÃ HỘI SỐ",
    "NGUỒN NHÂN LỰC",
)


@pytest.fixture(scope="module")
def directory() -> UnitDirectory:
    return appendix.directory()


@pytest.fixture(scope="module")
def plan(directory: UnitDirectory) -> PlanSheet:
    return read_plan_sheet(appendix.appendix_xlsx(), directory)


def by_code(plan: PlanSheet) -> dict[str, TaskRow]:
    return {task.code: task for task in plan.tasks}


def xlsx(rows: Sequence[Sequence[object]], merged: Sequence[str] = ()) -> bytes:
    book = Workbook()
    sheet = book.create_sheet("Sheet")
    book.remove(book.worksheets[0])
    for row in rows:
        sheet.append(list(row))
    for cells in merged:
        sheet.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


HEADER = ("STT", "Nhiệm vụ", "Cơ quan chủ trì", "Sản phẩm", "Thời hạn")
TASK = (1, "Ban hành quy chế", "Sở Nội vụ", "Quyết định", "Quý II/2026")


# ---- the appendix ------------------------------------------------------------------------------


def test_the_appendix_has_more_than_sixty_tasks_in_six_groups():
    assert appendix.TASK_COUNT == 66
    assert [len(g.tasks) for g in appendix.GROUPS] == [11] * 6


def test_the_appendix_reads_into_every_task_without_error(plan):
    assert plan.errors == ()
    assert len(plan.tasks) == 66
    assert [t.code for t in plan.tasks] == [str(n) for n in range(1, 67)]
    # The header is row 5, under the title; each group's heading takes a row.
    assert [t.row for t in plan.tasks[:2]] == [7, 8]
    assert plan.tasks[11].row == 19
    assert plan.tasks[-1].row == 77
    assert all(t.row == appendix.task_row(int(t.code)) for t in plan.tasks)


def test_the_heading_rows_set_the_group_of_the_tasks_under_them(plan):
    groups = Counter(t.group for t in plan.tasks)
    assert tuple(groups) == GROUP_TITLES
    assert list(groups.values()) == [11] * 6
    tasks = by_code(plan)
    assert tasks["11"].group == "HOÀN THIỆN THỂ CHẾ"
    assert tasks["12"].group == "HẠ TẦNG SỐ"
    # A heading written "V. XÃ HỘI SỐ" in one cell merged across the row.
    assert tasks["45"].group == "XÃ HỘI SỐ"
    assert tasks["56"].group == "NGUỒN NHÂN LỰC"


def test_units_are_resolved_with_exact_counts(plan):
    tasks = by_code(plan)
    lead_assignments = sum(len(t.lead.units) for t in plan.tasks)
    co_units = sum(len(t.co.units) for t in plan.tasks)
    # 66 tasks, 7 of them with two lead units, one led by the 102 communes.
    assert lead_assignments == 173
    assert sum(len(t.lead.units) > 1 for t in plan.tasks) == 7
    assert co_units == 1715
    leads = {code for t in plan.tasks for code in t.lead.units}
    named = leads | {code for t in plan.tasks for code in t.co.units}
    units = set(appendix.ALL_UNITS)
    assert len(leads & units) == 24
    assert units - leads == {"BNCTU"}
    assert named >= units | set(appendix.ALL_COMMUNES)
    assert len(named) == 127
    assert all(not t.lead.outside for t in plan.tasks)
    assert sum(bool(t.co.outside) for t in plan.tasks) == 16
    assert plan.outside == appendix.OUTSIDE_PARTNERS
    # Written many ways, each resolved to its unit.
    assert tasks["3"].lead.units == ("SKHCN",)  # Sở KH&CN
    assert tasks["8"].lead.units == ("SKHCN",)  # SKHCN
    assert tasks["15"].lead.units == ("SKHCN",)  # … tỉnh Đắk Lắk
    assert tasks["4"].lead.units == ("SKHCN", "SCT")
    assert tasks["63"].lead.units == ("SDTTG", "SGDDT")
    assert tasks["28"].lead.units == ("SNV", "VPTU")  # two lines in the cell
    assert tasks["33"].lead.units == ("VPDDBQH", "VPUBND")
    assert tasks["55"].lead.units == ("SNV",)  # sở nội vụ
    assert tasks["53"].lead.units == ("24133", "24490")
    assert tasks["48"].lead.units == appendix.ALL_COMMUNES
    assert tasks["48"].lead.collectives == (Collective.COMMUNES,)
    assert tasks["2"].co.units == appendix.DEPARTMENTS_AND_BODIES
    assert tasks["14"].co.units == appendix.ALL_COMMUNES
    assert tasks["14"].co.outside == ("VNPT Đắk Lắk",)
    assert tasks["59"].co.units == appendix.ALL_UNITS + appendix.ALL_COMMUNES


def test_a_lead_cell_merged_over_two_tasks_counts_for_both(plan):
    tasks = by_code(plan)
    assert tasks["20"].lead_cell == tasks["21"].lead_cell == "Sở Xây dựng"
    assert tasks["21"].lead.units == ("SXD",)


@pytest.mark.parametrize(
    ("code", "text", "milestones", "recurrence"),
    [
        ("1", "Quý II/2026", ("30/06/2026",), None),
        ("2", "Tháng 5/2026", ("31/05/2026",), None),
        ("3", "30/6/2026", ("30/06/2026",), None),
        ("4", "Năm 2027", ("31/12/2027",), None),
        ("6", "Tháng 09/2026", ("30/09/2026",), None),
        ("8", "6 tháng cuối năm 2026", ("31/12/2026",), None),
        ("9", "Hằng năm", (), Recurrence(ReportEvery.YEAR, None)),
        ("10", "Định kỳ 6 tháng", (), Recurrence(ReportEvery.HALF, None)),
        ("13", "2026-2027", ("31/12/2027",), None),
        ("15", "Quý 3/2026", ("30/09/2026",), None),
        ("16", "Thường xuyên", (), Recurrence(ReportEvery.QUARTER, None)),
        # A deadline typed as a date is stored as one, and read as the office sees it.
        ("19", "31/12/2026", ("31/12/2026",), None),
        ("21", "Thường xuyên, đến năm 2030", (), Recurrence(ReportEvery.QUARTER, 2030)),
        ("22", "Quý II/2026 và Quý IV/2026", ("30/06/2026", "31/12/2026"), None),
        (
            "24",
            "Năm 2026 và hằng năm đến 2030",
            ("31/12/2026",),
            Recurrence(ReportEvery.YEAR, 2030),
        ),
        ("29", "Quý I/2027", ("31/03/2027",), None),
        ("39", "Định kỳ hằng quý", (), Recurrence(ReportEvery.QUARTER, None)),
        ("43", "Hằng năm đến 2030", (), Recurrence(ReportEvery.YEAR, 2030)),
        ("45", "30/09/2026", ("30/09/2026",), None),
        ("47", "Định kỳ hằng tháng", (), Recurrence(ReportEvery.MONTH, None)),
        ("53", "Tháng 01 và tháng 12/2026", ("31/01/2026", "31/12/2026"), None),
        ("55", "Quý IV năm 2026", ("31/12/2026",), None),
        ("62", "6 tháng đầu năm 2027", ("30/06/2027",), None),
    ],
)
def test_deadlines_are_read_into_exact_dates(plan, code, text, milestones, recurrence):
    due = by_code(plan)[code].due
    assert due.text == text
    assert tuple(f"{d:%d/%m/%Y}" for d in due.milestones) == milestones
    assert due.recurrence == recurrence


def test_the_texts_are_kept_as_written(plan):
    task = by_code(plan)["1"]
    assert task.title.startswith("Xây dựng Nghị quyết quy định chính sách hỗ trợ")
    assert task.leader_in_charge == appendix.ECONOMY_VICE
    assert task.lead_cell == "Sở Khoa học và Công nghệ"
    assert task.co_cell == "Sở Tài chính, Sở Tư pháp"
    assert task.product == "Nghị quyết của HĐND tỉnh"
    assert task.authority == "HĐND tỉnh"
    assert task.source == "Nghị quyết số 57-NQ/TW"
    assert task.status is None
    authorities = Counter(t.authority for t in plan.tasks)
    assert authorities == {
        "UBND tỉnh": 53,
        "Tỉnh ủy": 7,
        "HĐND tỉnh": 3,
        "Chủ tịch UBND tỉnh": 2,
        "Ban Thường vụ Tỉnh ủy": 1,
    }


# ---- the broken appendix -----------------------------------------------------------------------

TITLE, LEAD, PRODUCT, DUE = (
    "Nội dung nhiệm vụ",
    "Cơ quan chủ trì",
    "Sản phẩm",
    "Thời gian hoàn thành",
)


def test_the_broken_appendix_gives_each_error_at_its_row_and_column(directory):
    broken = read_plan_sheet(appendix.broken_appendix_xlsx(), directory)
    assert broken.errors == (
        SheetError(9, TITLE, "No task: write what is to be done"),
        SheetError(11, LEAD, "No lead unit: name the unit or commune that leads the task"),
        SheetError(
            19,
            LEAD,
            'No unit of the province leads the task, only partners outside it ("Viettel Đắk '
            'Lắk", "VNPT Đắk Lắk"): name a unit or commune of the province to lead it',
        ),
        SheetError(
            27,
            DUE,
            "'Cuối năm 2026' is not a deadline: write a date (31/12/2026), a month (Tháng "
            "5/2026), a quarter (Quý II/2026), a half (6 tháng đầu năm 2026), a year (Năm 2026), "
            "a range (2027-2028) or a period (Thường xuyên, Hằng năm)",
        ),
        SheetError(
            33,
            PRODUCT,
            "No product: write what the task delivers (a decision, a plan, a database…)",
        ),
        SheetError(33, DUE, "'Quý V/2026': there is no quarter V"),
        SheetError(49, "STT", "The code 39 is already the code of the task in row 48"),
        SheetError(
            60,
            "Tình trạng",
            '"Tạm dừng" is not a status: write one of Chưa triển khai, Đang thực hiện, Hoàn thành',
        ),
    )
    assert [e.row for e in broken.errors] == [
        appendix.task_row(code) for code in (3, 5, 12, 20, 25, 25, 40, 50)
    ]
    assert len(broken.tasks) == 66 - 7
    assert broken.outside == appendix.OUTSIDE_PARTNERS


def test_statuses_are_read_whatever_their_case_and_diacritics(directory):
    broken = read_plan_sheet(appendix.broken_appendix_xlsx(), directory)
    tasks = by_code(broken)
    # Written "Hoàn thành", "đang thực hiện", "CHUA TRIEN KHAI" in turn.
    assert [tasks[c].status for c in ("1", "2", "4", "6")] == [
        TaskProgress.DONE,
        TaskProgress.IN_PROGRESS,
        TaskProgress.DONE,
        TaskProgress.NOT_STARTED,
    ]
    assert Counter(t.status for t in broken.tasks) == {
        TaskProgress.DONE: 20,
        TaskProgress.IN_PROGRESS: 19,
        TaskProgress.NOT_STARTED: 20,
    }


def test_a_file_that_is_not_a_workbook_is_one_error(directory):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ke-hoach.txt", "STT;Nhiệm vụ")
    for content in (b"STT,Nhiem vu\n1,Ban hanh\n", archive.getvalue(), b""):
        assert read_plan_sheet(content, directory) == PlanSheet(
            (), (SheetError(0, "", NOT_A_WORKBOOK),), ()
        )


def test_a_sheet_without_the_header_names_the_missing_columns(directory):
    missing_due = xlsx([["Kế hoạch"], HEADER[:4], TASK[:4]])
    assert read_plan_sheet(missing_due, directory).errors == (
        SheetError(
            0,
            "",
            "No header row has every column needed: row 2, the closest, lacks Thời hạn (or "
            "Thời gian hoàn thành)",
        ),
    )
    no_header = xlsx([["Kế hoạch"], ["1", "Ban hành quy chế"]])
    assert read_plan_sheet(no_header, directory).errors == (
        SheetError(
            0,
            "",
            "No header row was found: the sheet needs the columns Nhiệm vụ (or Nội dung nhiệm "
            "vụ), Cơ quan chủ trì (or Chủ trì), Sản phẩm and Thời hạn (or Thời gian hoàn thành)",
        ),
    )


# ---- headers and cells -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ("STT", "NHIỆM VỤ", "CƠ QUAN CHỦ TRÌ", "SẢN PHẨM", "THỜI HẠN"),
        ("stt", "nhiem vu", "co quan chu tri", "san pham", "thoi han"),
        (" Stt ", "Nhiệm  vụ", "Cơ quan  chủ trì", "Sản\nphẩm", "Thời gian\nhoàn thành"),
        ("Mã", "Nội dung nhiệm vụ", "CoQuanChuTri", "sản phẩm", "thời hạn"),
    ],
)
def test_headers_are_found_whatever_their_case_diacritics_or_spacing(directory, header):
    sheet = read_plan_sheet(xlsx([header, TASK]), directory)
    assert sheet.errors == ()
    assert [(t.row, t.code, t.title, t.lead.units) for t in sheet.tasks] == [
        (2, "1", "Ban hành quy chế", ("SNV",))
    ]


def test_an_error_names_the_column_as_the_file_writes_it(directory):
    header = ("STT", "NHIỆM VỤ", "Cơ quan  chủ trì", "SẢN PHẨM", "Thời gian\nhoàn thành")
    row = (1, "Ban hành quy chế", "", "Quyết định", "Quý II")
    sheet = read_plan_sheet(xlsx([header, row]), directory)
    assert [(e.row, e.column) for e in sheet.errors] == [
        (2, "Cơ quan chủ trì"),
        (2, "Thời gian hoàn thành"),
    ]


def test_a_header_over_two_rows_is_read_through_its_merged_cells(directory):
    rows = [
        ("STT", "Nhiệm vụ", "Cơ quan thực hiện", None, "Sản phẩm", "Thời hạn"),
        (None, None, "Chủ trì", "Phối hợp", None, None),
        (1, "Ban hành quy chế", "Sở Nội vụ", "Sở Tư pháp, Viettel Đắk Lắk", "Quyết định", "2026"),
    ]
    merged = ("A1:A2", "B1:B2", "C1:D1", "E1:E2", "F1:F2")
    sheet = read_plan_sheet(xlsx(rows, merged), directory)
    assert sheet.errors == ()
    (task,) = sheet.tasks
    assert (task.row, task.lead.units, task.co.units) == (3, ("SNV",), ("STP",))
    assert sheet.outside == ("Viettel Đắk Lắk",)


def test_a_group_column_names_the_group_and_headings_fill_it_where_empty(directory):
    header = ("STT", "Lĩnh vực", *HEADER[1:])
    rows = [
        header,
        ("I", None, "THỂ CHẾ", None, None, None),
        (1, "Dữ liệu", "Ban hành danh mục dữ liệu", "SKHCN", "Quyết định", "Tháng 5/2026"),
        (2, None, "Rà soát văn bản", "STP", "Báo cáo", "Năm 2026"),
        # Numbered rows of a template left empty are not tasks.
        (3, None, None, None, None, None),
    ]
    sheet = read_plan_sheet(xlsx(rows), directory)
    assert sheet.errors == ()
    assert [(t.code, t.group) for t in sheet.tasks] == [("1", "Dữ liệu"), ("2", "THỂ CHẾ")]


@pytest.mark.parametrize(
    ("code", "title", "group"),
    [
        ("I", "Hạ tầng số", "Hạ tầng số"),
        ("XIV", "Hạ tầng số", "Hạ tầng số"),
        # The heading merged across the row, its title after the numeral.
        ("II. HẠ TẦNG SỐ", None, "HẠ TẦNG SỐ"),
        ("VI - Nguồn nhân lực", None, "Nguồn nhân lực"),
    ],
)
def test_a_roman_numeral_row_with_a_title_alone_is_a_heading(directory, code, title, group):
    rows = [HEADER, (code, title, None, None, None), TASK]
    sheet = read_plan_sheet(xlsx(rows), directory)
    assert sheet.errors == ()
    assert [(t.row, t.group) for t in sheet.tasks] == [(3, group)]


@pytest.mark.parametrize("code", ["I.1", "2", "Ia", ""])
def test_any_other_row_with_a_title_alone_is_a_task_with_its_errors(directory, code):
    rows = [HEADER, (code, "Hạ tầng số", None, None, None), TASK]
    sheet = read_plan_sheet(xlsx(rows), directory)
    assert [(t.row, t.group) for t in sheet.tasks] == [(3, "")]
    assert [(e.row, e.column) for e in sheet.errors] == [
        (2, "Cơ quan chủ trì"),
        (2, "Sản phẩm"),
        (2, "Thời hạn"),
    ]


def test_a_roman_numeral_row_that_names_its_units_is_a_task(directory):
    rows = [HEADER, ("IV", "Ban hành quy chế", "Sở Nội vụ", "Quyết định", "Năm 2026")]
    sheet = read_plan_sheet(xlsx(rows), directory)
    assert [(t.code, t.group) for t in sheet.tasks] == [("IV", "")]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (1, "1"),
        (1.0, "1"),
        (2.5, "2.5"),
        (datetime(2026, 6, 30, 0, 0), "30/06/2026"),
        (date(2026, 1, 5), "05/01/2026"),
        ("  Sở Nội vụ \n", "Sở Nội vụ"),
        ("Dòng 1\nDòng 2", "Dòng 1\nDòng 2"),
    ],
)
def test_cells_are_read_as_the_text_a_person_sees(value, text):
    assert cell_text(value) == text


def test_header_keys_ignore_case_diacritics_and_spacing():
    assert header_key("NHIỆM VỤ") == header_key("nhiem vu") == header_key("Nhiệm\nvụ") == "nhiemvu"
    assert header_key("Cơ quan  chủ trì") == "coquanchutri"


# ---- the export --------------------------------------------------------------------------------


def export_rows(plan: PlanSheet) -> list[PlanSheetExportRow]:
    names = {u.code: u.name for u in appendix.UNITS} | {c.code: c.name for c in appendix.COMMUNES}
    progress = list(TaskProgress)
    timeliness = [None, *Timeliness]
    return [
        PlanSheetExportRow(
            code=t.code,
            group=t.group,
            title=t.title,
            leader_in_charge=t.leader_in_charge,
            lead_units=tuple(names[c] for c in t.lead.units) + t.lead.outside,
            co_units=tuple(names[c] for c in t.co.units) + t.co.outside,
            product=t.product,
            due=t.due.text,
            authority=t.authority,
            source=t.source,
            status=progress[i % 3],
            timeliness=timeliness[i % 5],
            last_report="Đã trình dự thảo" if i % 2 else "",
            last_report_on=date(2026, 5, 4) if i % 4 == 1 else None,
            issued_on=date(2026, 3, 2),
            completed_on=date(2026, 6, 15) if progress[i % 3] is TaskProgress.DONE else None,
        )
        for i, t in enumerate(plan.tasks)
    ]


def test_the_export_opens_with_the_columns_statuses_and_dates(plan):
    content = write_plan_sheet(export_rows(plan))
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header == [name for name, _ in EXPORT_COLUMNS]
    assert header[10:] == [
        "Trạng thái",
        "Tiến độ",
        "Báo cáo gần nhất",
        "Ngày giao",
        "Ngày hoàn thành",
    ]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["C"].width == 48
    assert sheet.max_row == 67
    first, second = sheet[2], sheet[3]
    assert first[0].value == 1  # a number, not the text "1"
    assert [c.value for c in first[10:15]] == [
        "Chưa triển khai",
        None,
        None,
        datetime(2026, 3, 2),
        None,
    ]
    assert [c.value for c in second[10:15]] == [
        "Đang thực hiện",
        "Trong hạn",
        "04/05/2026: Đã trình dự thảo",
        datetime(2026, 3, 2),
        None,
    ]
    assert sheet.cell(4, 15).value == datetime(2026, 6, 15)
    assert sheet.cell(4, 15).number_format == "DD/MM/YYYY"
    statuses = Counter(sheet.cell(r, 11).value for r in range(2, 68))
    assert statuses == {label: 22 for label in PROGRESS_LABELS.values()}
    timeliness = Counter(sheet.cell(r, 12).value for r in range(2, 68))
    assert timeliness == {None: 14, "Trong hạn": 13, "Quá hạn": 13, "Đúng hạn": 13, "Trễ hạn": 13}
    assert sheet.cell(2, 5).value == "Sở Khoa học và Công nghệ"
    assert sheet.cell(49, 5).value.count("; ") == 101  # task 48: the 102 communes


def test_the_export_reads_back_as_the_plan_under_way(plan, directory):
    rows = export_rows(plan)
    again = read_plan_sheet(write_plan_sheet(rows), directory)
    assert again.errors == ()
    assert again.outside == appendix.OUTSIDE_PARTNERS
    assert [t.status for t in again.tasks] == [r.status for r in rows]
    assert [(t.code, t.group, t.title, t.product, t.authority) for t in again.tasks] == [
        (t.code, t.group, t.title, t.product, t.authority) for t in plan.tasks
    ]
    assert [(t.lead.units, t.co.units, t.due) for t in again.tasks] == [
        (t.lead.units, t.co.units, t.due) for t in plan.tasks
    ]


def test_every_unit_written_by_its_full_name_reads_back(directory):
    rows = [
        (n, f"Nhiệm vụ {n}", unit.name, "Báo cáo", "Năm 2026")
        for n, unit in enumerate(appendix.UNITS, 1)
    ]
    sheet = read_plan_sheet(xlsx([HEADER, *rows]), directory)
    assert [t.lead.units for t in sheet.tasks] == [(u.code,) for u in appendix.UNITS]


def test_reading_the_appendix_is_quick(directory, figure):
    content = appendix.appendix_xlsx()
    started = time.perf_counter()
    sheet = read_plan_sheet(content, directory)
    elapsed = time.perf_counter() - started
    assert len(sheet.tasks) == 66
    lead_units = sum(len(t.lead.units) for t in sheet.tasks)
    figure(
        f"{len(sheet.tasks)} tasks read in {elapsed * 1000:.0f} ms: {lead_units} lead units "
        f"resolved, {len(sheet.outside)} outside partners"
    )


def test_a_control_character_pasted_into_a_cell_is_left_out_of_the_export() -> None:
    # "\x1e" (a record separator) is what a copy from some office systems carries; XML 1.0 has
    # no place for it, and before the fix the whole download failed with a 500.
    row = PlanSheetExportRow(
        code="1",
        group="I\x1e",
        title="Ban hành\x1e quy chế\x07",
        leader_in_charge="",
        lead_units=("Sở Nội vụ\x0b",),
        co_units=(),
        product="Quyết định",
        due="Quý II/2026",
        authority="",
        source="",
        status=TaskProgress.NOT_STARTED,
        last_report="Đã trình\x1f dự thảo",
    )
    sheet = load_workbook(io.BytesIO(write_plan_sheet([row]))).worksheets[0]
    assert [c.value for c in sheet[2]][:5] == [1, "I", "Ban hành quy chế", None, "Sở Nội vụ"]
    assert sheet.cell(2, 13).value == "Đã trình dự thảo"
