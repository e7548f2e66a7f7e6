"""The province's indicators written back in the offices' format: the columns the import reads
(so an exported sheet imports again), then each indicator's status against its next milestone —
its colour, the projected date, the pace so far and the pace required per month, the latest
accepted value and its date, and the days to the next milestone."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from openpyxl.styles import PatternFill

from services.indicator_cells import RHYTHM_LABELS
from services.sheets import append_row, finished_sheet, new_sheet
from vocabulary.indicators import Colour, Direction, IndicatorKind, ReportingRhythm

COLOUR_LABELS: dict[Colour, str] = {
    Colour.GREEN: "Xanh",
    Colour.YELLOW: "Vàng",
    Colour.RED: "Đỏ",
    Colour.GREY: "Xám",
}
# The colour cell filled as the board shows it, light enough to read the word on it.
_FILLS: dict[Colour, str] = {
    Colour.GREEN: "C6EFCE",
    Colour.YELLOW: "FFEB9C",
    Colour.RED: "FFC7CE",
    Colour.GREY: "E7E6E6",
}
# Headers and widths: the import's columns (the milestones go between "Hiện trạng" and
# "Đơn vị chủ trì"), then the status.
LEADING_COLUMNS: tuple[tuple[str, int], ...] = (
    ("STT", 6),
    ("Mã chỉ tiêu", 14),
    ("Nhóm", 24),
    ("Chỉ tiêu", 48),
    ("Đơn vị tính", 10),
    ("Hiện trạng", 11),
)
TRAILING_COLUMNS: tuple[tuple[str, int], ...] = (
    ("Đơn vị chủ trì", 28),
    ("Đơn vị phối hợp, cung cấp số liệu", 28),
    ("Kỳ báo cáo", 12),
)
STATUS_COLUMNS: tuple[tuple[str, int], ...] = (
    ("Mức độ", 9),
    ("Dự kiến đạt", 12),
    ("Tốc độ hiện tại (/tháng)", 12),
    ("Tốc độ cần thiết (/tháng)", 12),
    ("Giá trị gần nhất", 11),
    ("Ngày số liệu", 12),
    ("Số ngày đến mốc tiếp theo", 12),
)
MILESTONE_WIDTH = 14


@dataclass(frozen=True)
class ExportRow:
    """One indicator as the export writes it, in plain values."""

    code: str
    group: str
    name: str
    kind: IndicatorKind
    direction: Direction
    unit_of_measure: str
    baseline_value: float | None
    targets: dict[date, tuple[float, float]]
    responsible: str
    rhythm: ReportingRhythm
    colour: Colour
    projected_on: date | None
    pace_per_month: float | None
    pace_required_per_month: float | None
    latest_value: float | None
    latest_on: date | None
    days_left: int | None


def milestone_header(day: date) -> str:
    """A milestone column's header the import reads back: "Đến hết năm 2026" for 31 December,
    "Đến hết tháng 6/2026" for another month's last day, "Đến ngày 15/06/2026" otherwise."""
    if (day.month, day.day) == (12, 31):
        return f"Đến hết năm {day.year}"
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return f"Đến hết tháng {day.month}/{day.year}"
    return f"Đến ngày {day:%d/%m/%Y}"


def _figure(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def target_cell(row: ExportRow, low: float, high: float) -> str:
    """A target as offices write it: "≥ 80%", "51–52", "≤ 5", a rank "Hạng 9", "Đạt"."""
    if row.kind is IndicatorKind.YES_NO:
        return "Đạt"
    if row.kind is IndicatorKind.RANK:
        return f"Hạng {_figure(low)}"
    figure = _figure(low) if low == high else f"{_figure(low)}–{_figure(high)}"
    if row.kind is IndicatorKind.PERCENT:
        figure += "%"
    if low != high:
        return figure
    return f"{'≥' if row.direction is Direction.INCREASE else '≤'} {figure}"


def _cells(number: int, row: ExportRow, days: Sequence[date]) -> list[object]:
    targets = [target_cell(row, *row.targets[day]) if day in row.targets else None for day in days]
    cells: list[object] = [
        number,
        row.code,
        row.group,
        row.name,
        row.unit_of_measure,
        row.baseline_value,
        *targets,
        row.responsible,
        # The product keeps no data partners yet: the column is kept for the office to fill.
        None,
        RHYTHM_LABELS[row.rhythm],
        COLOUR_LABELS[row.colour],
        row.projected_on,
        row.pace_per_month,
        row.pace_required_per_month,
        row.latest_value,
        row.latest_on,
        row.days_left,
    ]
    return [None if cell == "" else cell for cell in cells]


def write_indicator_sheet(rows: Iterable[ExportRow]) -> bytes:
    """The indicators as an .xlsx, in the order given (the board's: worst first): one milestone
    column per milestone day any of them has, in date order; numbers as numbers, dates as
    dates, the colour cell filled with its colour, the header bold and frozen."""
    rows = list(rows)
    days = sorted({day for row in rows for day in row.targets})
    columns = [
        *LEADING_COLUMNS,
        *((milestone_header(day), MILESTONE_WIDTH) for day in days),
        *TRAILING_COLUMNS,
        *STATUS_COLUMNS,
    ]
    book, sheet = new_sheet("Chỉ tiêu", columns)
    colour_column = len(columns) - len(STATUS_COLUMNS) + 1
    for number, row in enumerate(rows, start=1):
        append_row(sheet, _cells(number, row, days))
        sheet.cell(number + 1, colour_column).fill = PatternFill(
            "solid", start_color=_FILLS[row.colour], end_color=_FILLS[row.colour]
        )
    return finished_sheet(book, sheet, columns)
