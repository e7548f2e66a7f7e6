"""The province's indicators in the spreadsheet the offices keep them in: one row an indicator
(`STT`, `Chỉ tiêu`, `Đơn vị tính`, one column per milestone headed by its date, "Đến hết năm
2026", `Đơn vị chủ trì`, `Đơn vị phối hợp, cung cấp số liệu`), its targets written as people
write them ("14%", "≥ 80%", "51–52", "Duy trì ≥ 98%", "Tăng ít nhất 3 bậc"). Reading turns each
row into an `IndicatorCreate`, every error named by its row and column; nothing here touches
the database.

The cells themselves (targets, milestone headers, the current figure) are read by
`services.indicator_cells`; a code is made from the group and the STT unless a "Mã chỉ tiêu"
column gives it."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from services.indicator_cells import (
    DEFAULT_RHYTHM,
    MILESTONE_FORMS,
    RHYTHM_FORMS,
    RHYTHM_LABELS,
    Target,
    baseline_date,
    fold,
    group_prefix,
    is_baseline_header,
    kind_of,
    milestone_date,
    read_baseline,
    read_target,
)
from services.indicator_schemas import INDICATOR_CODE_PATTERN, IndicatorCreate, MilestoneIn
from services.sheets import Column, SheetError, UnreadableSheet, find_header, read_grid
from vocabulary.deadline_text import DeadlineTextError
from vocabulary.indicators import Direction, IndicatorKind, IndicatorScope
from vocabulary.unit_names import Resolution, UnitDirectory

# The fixed columns; the milestone and "Hiện trạng" columns are found by their headers' words.
COLUMNS = (
    Column("code", ("Mã chỉ tiêu", "Mã")),
    Column("number", ("STT", "TT")),
    Column("group", ("Nhóm", "Nhóm chỉ tiêu")),
    Column("name", ("Chỉ tiêu", "Tên chỉ tiêu", "Nội dung chỉ tiêu"), required=True),
    Column("unit_of_measure", ("Đơn vị tính", "ĐVT"), required=True),
    Column("responsible", ("Đơn vị chủ trì", "Cơ quan chủ trì"), required=True),
    Column(
        "partners",
        ("Đơn vị phối hợp, cung cấp số liệu", "Đơn vị phối hợp", "Cơ quan phối hợp"),
    ),
    Column("rhythm", ("Kỳ báo cáo",)),
)
# A group's heading row is numbered I, II, …
_ROMAN = re.compile(r"^[IVXLC]+\.?$")


@dataclass(frozen=True)
class MilestoneColumn:
    index: int
    header: str
    due_on: date


@dataclass(frozen=True)
class BaselineColumn:
    index: int
    header: str
    as_of: date | None


@dataclass(frozen=True)
class SheetIndicator:
    """One row read: the indicator as it would be created, and its data partners (resolved
    units and partners outside the province, as written), which the product keeps no field
    for. `states` names the optional fields the sheet gave, so a re-import leaves alone what
    the sheet does not say."""

    row: int
    indicator: IndicatorCreate
    partners: Resolution
    states: frozenset[str]


@dataclass(frozen=True)
class IndicatorSheet:
    """Every row read without error and every error, in the sheet's order. A sheet with any
    error is refused whole."""

    indicators: tuple[SheetIndicator, ...]
    errors: tuple[SheetError, ...]


@dataclass
class _RowErrors:
    number: int
    found: list[SheetError] = field(default_factory=list)

    def add(self, column: str, message: str) -> None:
        self.found.append(SheetError(self.number, column, message))


class _Reader:
    """The rows of one sheet read in order against its header: the milestone and "Hiện trạng"
    columns found by their headers' words, and the codes seen so far."""

    def __init__(
        self,
        header: Sequence[str],
        positions: dict[str, int],
        directory: UnitDirectory,
        group: str | None,
    ) -> None:
        self.positions = positions
        self.directory = directory
        self.group = group
        self.headers = {f: " ".join(header[i].split()) for f, i in positions.items()}
        self.milestones: list[MilestoneColumn] = []
        self.baseline: BaselineColumn | None = None
        self.header_errors: list[str] = []
        self.codes: dict[str, int] = {}
        taken = set(positions.values())
        for index, text in enumerate(header):
            if index in taken or not text.strip():
                continue
            written = " ".join(text.split())
            if is_baseline_header(written):
                self.baseline = BaselineColumn(index, written, baseline_date(written))
                continue
            try:
                due_on = milestone_date(written)
            except DeadlineTextError as error:
                self.header_errors.append(str(error))
                continue
            if due_on is None:
                continue
            twice = next((m for m in self.milestones if m.due_on == due_on), None)
            if twice is not None:
                self.header_errors.append(
                    f'"{written}" and "{twice.header}" are both the milestone of {due_on:%d/%m/%Y}'
                )
                continue
            self.milestones.append(MilestoneColumn(index, written, due_on))
        if not self.milestones and not self.header_errors:
            self.header_errors.append(f"No milestone column: {MILESTONE_FORMS}")

    def cell(self, cells: Sequence[str], field: str) -> str:
        index = self.positions.get(field)
        return cells[index] if index is not None and index < len(cells) else ""

    def read(self, number: int, cells: Sequence[str]) -> SheetIndicator | list[SheetError]:
        errors = _RowErrors(number)
        texts = {c.field: self.cell(cells, c.field) for c in COLUMNS}
        name, unit = texts["name"], texts["unit_of_measure"]
        if not name:
            errors.add(self.headers["name"], "No indicator: write what is measured")
        targets: list[tuple[MilestoneColumn, Target]] = []
        for column in self.milestones:
            written = cells[column.index] if column.index < len(cells) else ""
            if not written:
                continue
            try:
                targets.append((column, read_target(written)))
            except ValueError as error:
                errors.add(column.header, str(error))
        if not targets and not any(e.column in self._milestone_headers for e in errors.found):
            errors.add("", "No target: write the target under at least one milestone")
        kind = kind_of(unit, [t for _, t in targets])
        direction = self._direction(kind, targets, errors)
        baseline_value: float | None = None
        if self.baseline is not None:
            written = cells[self.baseline.index] if self.baseline.index < len(cells) else ""
            if written:
                try:
                    baseline_value = read_baseline(written)
                except ValueError as error:
                    errors.add(self.baseline.header, str(error))
        milestones = self._milestones(kind, targets, baseline_value, errors)
        responsible = self._responsible(texts["responsible"], errors)
        partners = self.directory.resolve(texts["partners"])
        group = self.group if self.group is not None else texts["group"]
        if not group:
            errors.add("", "No group: give the group with the file, or write it under Nhóm")
        code = self._code(texts, group, errors)
        rhythm = DEFAULT_RHYTHM
        if texts["rhythm"]:
            found = RHYTHM_FORMS.get(fold(texts["rhythm"]))
            if found is None:
                labels = ", ".join(RHYTHM_LABELS.values())
                errors.add(
                    self.headers["rhythm"],
                    f'"{texts["rhythm"]}" is not a reporting rhythm: write one of {labels}',
                )
            else:
                rhythm = found
        if errors.found:
            return errors.found
        try:
            indicator = IndicatorCreate(
                code=code,
                name=name,
                kind=kind,
                direction=direction,
                scope=IndicatorScope.PROVINCE,
                rhythm=rhythm,
                unit_of_measure=unit,
                group=group,
                responsible=responsible,
                baseline_value=baseline_value,
                baseline_on=(
                    self.baseline.as_of
                    if self.baseline is not None and baseline_value is not None
                    else None
                ),
                milestones=milestones,
            )
        except ValidationError as error:
            return [
                SheetError(number, "", f"{'.'.join(map(str, e['loc']))}: {e['msg']}")
                for e in error.errors()
            ]
        states = {"baseline"} if self.baseline is not None else set()
        if self.positions.get("rhythm") is not None:
            states.add("rhythm")
        return SheetIndicator(number, indicator, partners, frozenset(states))

    @property
    def _milestone_headers(self) -> set[str]:
        return {m.header for m in self.milestones}

    def _direction(
        self,
        kind: IndicatorKind,
        targets: list[tuple[MilestoneColumn, Target]],
        errors: _RowErrors,
    ) -> Direction:
        if kind is IndicatorKind.RANK:
            for column, target in targets:
                if target.direction is Direction.INCREASE and not target.rank:
                    errors.add(column.header, "A rank is better when lower: write it as Hạng 10")
            return Direction.DECREASE
        ways = {t.direction for _, t in targets if t.direction is not None}
        if len(ways) > 1:
            column = next(c for c, t in targets if t.direction is Direction.DECREASE)
            errors.add(column.header, "One target says at least, another at most: keep one way")
        return ways.pop() if len(ways) == 1 else Direction.INCREASE

    def _milestones(
        self,
        kind: IndicatorKind,
        targets: list[tuple[MilestoneColumn, Target]],
        baseline: float | None,
        errors: _RowErrors,
    ) -> list[MilestoneIn]:
        milestones = []
        for column, target in targets:
            low, high = target.low, target.high
            if kind is IndicatorKind.YES_NO and not target.met:
                errors.add(column.header, "A criterion is met or not: write Đạt")
                continue
            if target.rank_up is not None:
                if baseline is None:
                    header = self.baseline.header if self.baseline else "Hiện trạng"
                    errors.add(
                        column.header,
                        f"A rise of {target.rank_up} places counts from the current rank: write "
                        f"it under {header}",
                    )
                    continue
                low = high = baseline - target.rank_up
                if low < 1:
                    errors.add(
                        column.header,
                        f"Up {target.rank_up} places from rank {baseline:g} is beyond first place",
                    )
                    continue
            if kind is IndicatorKind.RANK and (low != int(low) or low < 1):
                errors.add(column.header, f"A rank is a whole number from 1, not {low:g}")
                continue
            if kind is IndicatorKind.PERCENT and not 0 <= low <= high <= 100:
                errors.add(column.header, "A percentage lies between 0 and 100")
                continue
            target_text = f"{low:g}" if low == high else f"{low:g}–{high:g}"
            milestones.append(MilestoneIn(date=column.due_on, target=target_text))
        return milestones

    def _responsible(self, cell: str, errors: _RowErrors) -> str:
        header = self.headers["responsible"]
        if not cell:
            errors.add(header, "No lead unit: name the unit of the province that leads it")
            return ""
        found = self.directory.resolve(cell)
        if not found.units:
            outside = ", ".join(f'"{p}"' for p in found.outside)
            errors.add(header, f"{outside} is not a unit of the province: write its name or code")
            return ""
        if len(found.units) > 1:
            errors.add(
                header,
                "One unit leads an indicator: keep one here and name the others under "
                "Đơn vị phối hợp, cung cấp số liệu",
            )
        return found.units[0]

    def _code(self, texts: dict[str, str], group: str, errors: _RowErrors) -> str:
        written = texts["code"]
        header = self.headers.get("code") or self.headers.get("number") or ""
        if written:
            code = written
        elif texts["number"]:
            code = f"{group_prefix(group)}-{texts['number'].rstrip('.')}"
        else:
            errors.add("", "No STT or Mã chỉ tiêu: the indicator's code is made from them")
            return ""
        if re.fullmatch(INDICATOR_CODE_PATTERN, code) is None:
            errors.add(header, f'"{code}" cannot be a code: letters, digits, ".", "_", "-"')
        elif code in self.codes:
            errors.add(header, f"The code {code} is already the code of row {self.codes[code]}")
        else:
            self.codes[code] = errors.number
        return code


def _is_heading(texts: Sequence[str], reader: _Reader) -> bool:
    """A group's heading row ("I", "TRỌNG TÂM"): a Roman numeral and nothing to measure."""
    number = reader.cell(texts, "number")
    filled = [reader.cell(texts, f) for f in ("unit_of_measure", "responsible", "partners", "code")]
    targets = [texts[m.index] for m in reader.milestones if m.index < len(texts)]
    return _ROMAN.match(number) is not None and not any(filled) and not any(targets)


def _percent_cells(content: bytes) -> dict[tuple[int, int], str]:
    """Cells of the first sheet holding a number shown as a percentage (0.14 shown 14%): the
    text a person sees, by (row, column) from 0."""
    try:
        book = load_workbook(io.BytesIO(content), data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError):
        return {}
    shown = {}
    for row in book.worksheets[0].iter_rows():
        for cell in row:
            if isinstance(cell.value, int | float) and "%" in str(cell.number_format):
                percent = round(float(cell.value) * 100, 10)
                shown[(cell.row - 1, cell.column - 1)] = f"{percent:g}%"
    return shown


def read_indicator_sheet(
    content: bytes, directory: UnitDirectory, group: str | None
) -> IndicatorSheet:
    """Read the first sheet of an .xlsx as indicators. A file that is not an .xlsx, has no
    header row with the indicator, unit and lead unit columns, or no milestone column, is an
    error at row 0 (or the header row); otherwise each row's errors name its row and column."""
    try:
        grid = [list(row) for row in read_grid(content)]
        header_index, positions = find_header(grid, COLUMNS)
    except UnreadableSheet as unreadable:
        return IndicatorSheet((), (unreadable.error,))
    for (r, c), text in _percent_cells(content).items():
        if r < len(grid) and c < len(grid[r]):
            grid[r][c] = text
    reader = _Reader(grid[header_index], positions, directory, group)
    if reader.header_errors:
        row = header_index + 1
        return IndicatorSheet((), tuple(SheetError(row, "", e) for e in reader.header_errors))
    indicators: list[SheetIndicator] = []
    errors: list[SheetError] = []
    for index in range(header_index + 1, len(grid)):
        cells = grid[index]
        # A numbered row left empty at the end of a template holds nothing to read.
        if not any(c for i, c in enumerate(cells) if i != positions.get("number")):
            continue
        if _is_heading(cells, reader):
            continue
        read = reader.read(index + 1, cells)
        if isinstance(read, SheetIndicator):
            indicators.append(read)
        else:
            errors.extend(read)
    return IndicatorSheet(tuple(indicators), tuple(errors))
