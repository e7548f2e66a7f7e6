"""A plan's tasks in the spreadsheet the offices keep them in: the appendix of an implementation
plan (kế hoạch) read into tasks with their units resolved and deadlines parsed, every row error
named by its row and column, and the plan written back with each task's status, timeliness and
last report, as the office sends it up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.sheets import (
    Column,
    SheetError,
    SheetRow,
    Table,
    UnreadableSheet,
    append_row,
    finished_sheet,
    new_sheet,
    read_table,
)
from vocabulary.deadline_text import Deadline, DeadlineTextError, parse_deadline
from vocabulary.directives import Timeliness
from vocabulary.unit_names import Resolution, UnitDirectory, normalize


class TaskProgress(StrEnum):
    """Where a task stands in a plan already under way, as the office's sheet says."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"


PROGRESS_LABELS: dict[TaskProgress, str] = {
    TaskProgress.NOT_STARTED: "Chưa triển khai",
    TaskProgress.IN_PROGRESS: "Đang thực hiện",
    TaskProgress.DONE: "Hoàn thành",
}
# Other ways sheets write the same three, matched after `normalize`.
_PROGRESS_FORMS: dict[str, TaskProgress] = {
    normalize(form): progress
    for progress, forms in {
        TaskProgress.NOT_STARTED: ("Chưa triển khai", "Chưa thực hiện"),
        TaskProgress.IN_PROGRESS: ("Đang thực hiện", "Đang triển khai"),
        TaskProgress.DONE: ("Hoàn thành", "Đã hoàn thành"),
    }.items()
    for form in forms
}

TIMELINESS_LABELS: dict[Timeliness, str] = {
    Timeliness.WITHIN_DEADLINE: "Trong hạn",
    Timeliness.OVERDUE: "Quá hạn",
    Timeliness.ON_TIME: "Đúng hạn",
    Timeliness.LATE: "Trễ hạn",
}

# The plan's columns, in the order the export writes them. "Trạng thái" is the export's own
# status header, so an exported plan reads back as a plan under way.
COLUMNS = (
    Column("code", ("STT", "Mã")),
    Column("group", ("Nhóm", "Lĩnh vực")),
    Column("title", ("Nhiệm vụ", "Nội dung nhiệm vụ"), required=True),
    Column("leader_in_charge", ("Lãnh đạo phụ trách",)),
    # "Chủ trì" and "Phối hợp" head the two halves of a "Cơ quan thực hiện" header written over
    # two rows.
    Column("lead_units", ("Cơ quan chủ trì", "Chủ trì"), required=True),
    Column("co_units", ("Cơ quan phối hợp", "Phối hợp")),
    Column("product", ("Sản phẩm",), required=True),
    Column("due", ("Thời hạn", "Thời gian hoàn thành"), required=True),
    Column("authority", ("Cấp ban hành", "Cấp trình")),
    Column("source", ("Căn cứ",)),
    Column("status", ("Tình trạng", "Trạng thái")),
)
# A row's errors are listed in the order of the plan's columns.
_FIELD_ORDER = [c.field for c in COLUMNS]
# What a task has that a group's heading row does not.
_TASK_FIELDS = (
    "leader_in_charge",
    "lead_units",
    "co_units",
    "product",
    "due",
    "authority",
    "source",
    "status",
)
# A group's heading is numbered I, II, … XXXIX, with its title in the task column or after the
# numeral in the same cell ("II. HẠ TẦNG SỐ", when the heading is merged across the row).
_GROUP_HEADING = re.compile(
    r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})(?![^\W\d_])(?:\s*[.):\-–]\s*|\s+)?([^\W\d_].*)?", re.S
)


@dataclass(frozen=True)
class TaskRow:
    """One task as its row wrote it: the texts as written (spaces around them removed), the
    deadline read from its cell, the lead and co-ordinating units resolved, and the status when
    the sheet has one. `group` is the row's Nhóm cell, or else the heading row above it."""

    row: int
    code: str
    group: str
    title: str
    leader_in_charge: str
    lead_cell: str
    co_cell: str
    product: str
    due: Deadline
    authority: str
    source: str
    lead: Resolution
    co: Resolution
    status: TaskProgress | None


@dataclass(frozen=True)
class PlanSheet:
    """What a plan's sheet holds: the tasks of the rows without errors, every row error in the
    order of the sheet, and every partner outside the province named in a lead or co-ordinating
    cell, once, in the order met. A sheet with any error is to be refused whole."""

    tasks: tuple[TaskRow, ...]
    errors: tuple[SheetError, ...]
    outside: tuple[str, ...]


def _group_heading(row: SheetRow) -> str | None:
    """The title of a group's heading row, or None when the row is not one."""
    if any(row[field] for field in _TASK_FIELDS):
        return None
    heading = _GROUP_HEADING.fullmatch(row["code"])
    if heading is None:
        return None
    return (heading[1] or row["title"]).strip()


def _progress(text: str) -> TaskProgress | None:
    return _PROGRESS_FORMS.get(normalize(text))


def _lead_error(lead: Resolution) -> str:
    if not lead.outside:
        return "No lead unit: name the unit or commune that leads the task"
    partners = ", ".join(f'"{p}"' for p in lead.outside)
    return (
        f"No unit of the province leads the task, only partners outside it ({partners}): "
        "name a unit or commune of the province to lead it"
    )


class _Reader:
    """The rows of one sheet read in order, with what they share: the group heading above,
    the codes seen and the outside partners met."""

    def __init__(self, table: Table, directory: UnitDirectory) -> None:
        self.table = table
        self.directory = directory
        self.group = ""
        self.codes: dict[str, int] = {}
        self.outside: dict[str, str] = {}
        self.tasks: list[TaskRow] = []
        self.errors: list[SheetError] = []

    def column(self, field: str) -> str:
        return self.table.column_name(field)

    def read(self, row: SheetRow) -> None:
        heading = _group_heading(row)
        if heading is not None:
            self.group = heading
            return
        if not any(row[field] for field in ("title", *_TASK_FIELDS)):
            return  # a numbered row left empty at the end of a template
        errors: dict[str, str] = {}
        if not row["title"]:
            errors["title"] = "No task: write what is to be done"
        lead = self.directory.resolve(row["lead_units"])
        co = self.directory.resolve(row["co_units"])
        for partner in (*lead.outside, *co.outside):
            self.outside.setdefault(normalize(partner), partner)
        if not lead.units:
            errors["lead_units"] = _lead_error(lead)
        if not row["product"]:
            errors["product"] = (
                "No product: write what the task delivers (a decision, a plan, a database…)"
            )
        due: Deadline | None = None
        try:
            due = parse_deadline(row["due"])
        except DeadlineTextError as error:
            errors["due"] = str(error)
        code = row["code"]
        if code and code in self.codes:
            first = self.codes[code]
            errors["code"] = f"The code {code} is already the code of the task in row {first}"
        elif code:
            self.codes[code] = row.number
        status = _progress(row["status"]) if row["status"] else None
        if row["status"] and status is None:
            labels = ", ".join(PROGRESS_LABELS.values())
            errors["status"] = f'"{row["status"]}" is not a status: write one of {labels}'
        if errors or due is None:
            for field in sorted(errors, key=_FIELD_ORDER.index):
                self.errors.append(SheetError(row.number, self.column(field), errors[field]))
            return
        self.tasks.append(
            TaskRow(
                row=row.number,
                code=code,
                group=row["group"] or self.group,
                title=row["title"],
                leader_in_charge=row["leader_in_charge"],
                lead_cell=row["lead_units"],
                co_cell=row["co_units"],
                product=row["product"],
                due=due,
                authority=row["authority"],
                source=row["source"],
                lead=lead,
                co=co,
                status=status,
            )
        )


def read_plan_sheet(content: bytes, directory: UnitDirectory) -> PlanSheet:
    """Read the first sheet of an .xlsx as a plan's tasks. A file that is not an .xlsx, or has
    no header row with the task, lead unit, product and deadline columns, is one error at row
    0; otherwise each row's errors name its row and column."""
    try:
        table = read_table(content, COLUMNS)
    except UnreadableSheet as unreadable:
        return PlanSheet((), (unreadable.error,), ())
    reader = _Reader(table, directory)
    for row in table.rows:
        reader.read(row)
    return PlanSheet(tuple(reader.tasks), tuple(reader.errors), tuple(reader.outside.values()))


# ---- the export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSheetExportRow:
    """One task as the export writes it, in plain values: units by their names, the deadline as
    written, the last report's date and text."""

    code: str
    group: str
    title: str
    leader_in_charge: str
    lead_units: tuple[str, ...]
    co_units: tuple[str, ...]
    product: str
    due: str
    authority: str
    source: str
    status: TaskProgress
    timeliness: Timeliness | None = None
    last_report: str = ""
    last_report_on: date | None = None
    issued_on: date | None = None
    completed_on: date | None = None


# Each exported column: its header and its width in characters.
EXPORT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("STT", 6),
    ("Nhóm", 22),
    ("Nhiệm vụ", 48),
    ("Lãnh đạo phụ trách", 22),
    ("Cơ quan chủ trì", 28),
    ("Cơ quan phối hợp", 28),
    ("Sản phẩm", 26),
    ("Thời hạn", 18),
    ("Cấp ban hành", 14),
    ("Căn cứ", 22),
    ("Trạng thái", 16),
    ("Tiến độ", 12),
    ("Báo cáo gần nhất", 40),
    ("Ngày giao", 12),
    ("Ngày hoàn thành", 14),
)
# Semicolons always separate units when the file is read again, while commas may sit inside a
# unit's name ("Sở Văn hóa, Thể thao và Du lịch").
UNIT_SEPARATOR = "; "


def _report(row: PlanSheetExportRow) -> str:
    if row.last_report_on is None:
        return row.last_report
    if not row.last_report:
        return f"{row.last_report_on:%d/%m/%Y}"
    return f"{row.last_report_on:%d/%m/%Y}: {row.last_report}"


def _cells(row: PlanSheetExportRow) -> list[object]:
    cells: list[object] = [
        int(row.code) if row.code.isdigit() else row.code,
        row.group,
        row.title,
        row.leader_in_charge,
        UNIT_SEPARATOR.join(row.lead_units),
        UNIT_SEPARATOR.join(row.co_units),
        row.product,
        row.due,
        row.authority,
        row.source,
        PROGRESS_LABELS[row.status],
        "" if row.timeliness is None else TIMELINESS_LABELS[row.timeliness],
        _report(row),
        row.issued_on,
        row.completed_on,
    ]
    # An empty string would still be a cell, which spreadsheets count as filled.
    return [None if cell == "" else cell for cell in cells]


def write_plan_sheet(rows: Iterable[PlanSheetExportRow]) -> bytes:
    """The plan as an .xlsx: the import's columns under Vietnamese headers, then status,
    timeliness, the last report and the dates; one row per task, codes as numbers where they
    are, dates as dates, the header bold and frozen."""
    book, sheet = new_sheet("Nhiệm vụ", EXPORT_COLUMNS)
    for row in rows:
        append_row(sheet, _cells(row))
    return finished_sheet(book, sheet, EXPORT_COLUMNS)
