"""Tables the offices keep in spreadsheets, read from the first sheet of an .xlsx: the header row
found under any title the office wrote above it, its columns matched by their Vietnamese names
whatever their case, diacritics or spacing, and every cell read as the text a person sees. Errors
carry the spreadsheet's own row numbers and the header names as written, so the office finds the
cell. Nothing here knows what a table holds: the caller names its columns."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from vocabulary.unit_names import normalize

NOT_A_WORKBOOK = (
    "The file is not an Excel workbook (.xlsx): open it in a spreadsheet and save it as .xlsx"
)


@dataclass(frozen=True)
class Column:
    """A column the reader looks for: the field it fills and the header names offices write
    for it, the usual one first."""

    field: str
    aliases: tuple[str, ...]
    required: bool = False

    @property
    def name(self) -> str:
        return self.aliases[0]

    @property
    def described(self) -> str:
        """The column as a message names it: "Thời hạn (or Thời gian hoàn thành)"."""
        if len(self.aliases) == 1:
            return self.name
        return f"{self.name} (or {' or '.join(self.aliases[1:])})"


@dataclass(frozen=True)
class SheetError:
    """One thing wrong with a file: the row as the spreadsheet numbers it (0 for the file as a
    whole), the column by its header as written ("" for the file or a whole row) and what to do."""

    row: int
    column: str
    message: str


class UnreadableSheet(Exception):
    """The file cannot be read as a table at all: not an .xlsx, or no header row."""

    def __init__(self, error: SheetError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class SheetRow:
    """One row under the header that holds some text: its number in the spreadsheet and the text
    of each column the reader looks for ("" for a column the file does not have)."""

    number: int
    texts: Mapping[str, str]

    def __getitem__(self, field: str) -> str:
        return self.texts[field]


@dataclass(frozen=True)
class Table:
    """The header row's number, the header of each column found (as written, spaces collapsed)
    and the rows under it, in order."""

    header_row: int
    headers: Mapping[str, str]
    rows: tuple[SheetRow, ...]

    def has(self, field: str) -> bool:
        return field in self.headers

    def column_name(self, field: str) -> str:
        return self.headers[field]


def header_key(text: str) -> str:
    """What two writings of one header share: "NHIỆM VỤ", "nhiem vu" and "Nhiệm  vụ" are all
    "nhiemvu". Spaces go altogether, since headers wrapped by hand in a cell split words
    anywhere."""
    return normalize(text).replace(" ", "")


def cell_text(value: object) -> str:
    """A cell as a person reads it: a whole number without its ".0" (STT 1, not 1.0), a date as
    dd/mm/yyyy, text without the spaces around it, an empty cell as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    return str(value).strip()


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def read_grid(content: bytes) -> tuple[tuple[str, ...], ...]:
    """The first sheet's cells as text, row by row. A cell merged over several rows counts in
    each of them, in its first column: offices merge a lead unit over the tasks it leads, and a
    header over its two header rows. A cell merged across columns only (a group's title) stays
    in its first column."""
    try:
        book = load_workbook(io.BytesIO(content), data_only=True)
    # openpyxl reports a file that is not a workbook in several ways, by what it meets first.
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as error:
        raise UnreadableSheet(SheetError(0, "", NOT_A_WORKBOOK)) from error
    sheet = book.worksheets[0]
    grid = [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    for merged in sheet.merged_cells.ranges:
        top, left = merged.min_row - 1, merged.min_col - 1
        if top >= len(grid) or left >= len(grid[top]):
            continue
        for r in range(top + 1, min(merged.max_row, len(grid))):
            grid[r][left] = grid[top][left]
    return tuple(tuple(row) for row in grid)


def _matches(row: Sequence[str], columns: Sequence[Column]) -> dict[str, int]:
    """The position of each column the row names; the first of two that name one column wins."""
    keys = {header_key(alias): column.field for column in columns for alias in column.aliases}
    found: dict[str, int] = {}
    for index, text in enumerate(row):
        field = keys.get(header_key(text)) if text else None
        if field is not None and field not in found:
            found[field] = index
    return found


def _describe(columns: Sequence[Column]) -> str:
    names = [c.described for c in columns]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def find_header(
    grid: Sequence[Sequence[str]], columns: Sequence[Column]
) -> tuple[int, dict[str, int]]:
    """The first row that names every required column (its index in the grid) and the position
    of each column it names. Raise UnreadableSheet naming the missing columns, against the row
    that came closest."""
    required = [c for c in columns if c.required]
    closest: tuple[int, dict[str, int]] | None = None
    for index, row in enumerate(grid):
        found = _matches(row, columns)
        named = sum(c.field in found for c in required)
        if named == len(required):
            return index, found
        if named and (closest is None or named > sum(c.field in closest[1] for c in required)):
            closest = (index, found)
    if closest is None:
        message = f"No header row was found: the sheet needs the columns {_describe(required)}"
    else:
        missing = [c for c in required if c.field not in closest[1]]
        message = (
            f"No header row has every column needed: row {closest[0] + 1}, the closest, "
            f"lacks {_describe(missing)}"
        )
    raise UnreadableSheet(SheetError(0, "", message))


def read_table(content: bytes, columns: Sequence[Column]) -> Table:
    """The table of the first sheet: its header row, found under any title rows, and every row
    under it that holds text in one of the columns. Raise UnreadableSheet when there is none."""
    if len({c.field for c in columns}) != len(columns):
        raise ValueError("two columns fill the same field")
    grid = read_grid(content)
    header_index, positions = find_header(grid, columns)
    headers = {
        c.field: _collapsed(grid[header_index][positions[c.field]])
        for c in columns
        if c.field in positions
    }
    rows = []
    for index in range(header_index + 1, len(grid)):
        cells = grid[index]
        texts = {
            c.field: cells[positions[c.field]] if c.field in positions else "" for c in columns
        }
        if any(texts.values()):
            rows.append(SheetRow(index + 1, texts))
    return Table(header_index + 1, headers, tuple(rows))


# How a written sheet shows a date: as the offices write it.
DATE_FORMAT = "DD/MM/YYYY"


def writable(value: object) -> object:
    """A value a worksheet can hold: text loses the control characters XML 1.0 refuses (a
    pasted "\x1e" would otherwise fail the whole download); anything else is kept."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def append_row(sheet: Worksheet, values: Iterable[object]) -> None:
    """Write a row of values as `writable` makes them."""
    sheet.append([writable(v) for v in values])


def new_sheet(title: str, columns: Sequence[tuple[str, float]]) -> tuple[Workbook, Worksheet]:
    """A workbook of one sheet titled `title`, its header row bold and wrapped: (header, width)
    for each column."""
    book = Workbook()
    sheet = book.create_sheet(title)
    book.remove(book.worksheets[0])
    sheet.append([header for header, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    return book, sheet


def finished_sheet(book: Workbook, sheet: Worksheet, columns: Sequence[tuple[str, float]]) -> bytes:
    """The written rows in the offices' look (wrapped at the top, dates as dates in
    DATE_FORMAT), each column its width and the header frozen: the .xlsx's bytes."""
    wrapped = Alignment(wrap_text=True, vertical="top")
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = wrapped
            if isinstance(cell.value, date):
                cell.number_format = DATE_FORMAT
    for index, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
