"""The deadline cell of a task in an implementation plan (kế hoạch), as Vietnamese offices write
it: a date, a month, a quarter, a half, a year, a range of years, several of these, or a period
the task is reported on ("Thường xuyên", "Hằng năm đến 2030"). Read once when the plan is
imported and stored as dates beside the text as written. Standard library only."""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from vocabulary.text import without_diacritics

FIRST_YEAR = 2000
LAST_YEAR = 2100

FORMS = (
    "write a date (31/12/2026), a month (Tháng 5/2026), a quarter (Quý II/2026), a half "
    "(6 tháng đầu năm 2026), a year (Năm 2026), a range (2027-2028) or a period "
    "(Thường xuyên, Hằng năm)"
)


class DeadlineTextError(ValueError):
    """A deadline cell that cannot be read; the message names what was not understood."""


class ReportEvery(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"


@dataclass(frozen=True)
class Recurrence:
    """A report owed every period; without an end year it runs to the plan's horizon."""

    every: ReportEvery
    until_year: int | None


@dataclass(frozen=True)
class Deadline:
    """A task's deadline as read from its cell: the text as written, its milestones (sorted and
    distinct; empty only when the task reports every period) and the period, if any."""

    text: str
    milestones: tuple[date, ...]
    recurrence: Recurrence | None

    def __post_init__(self) -> None:
        if self.milestones != tuple(sorted(set(self.milestones))):
            raise ValueError("milestones must be sorted and distinct")
        if not self.milestones and self.recurrence is None:
            raise ValueError("a deadline without a period needs at least one milestone")

    @property
    def final(self) -> date | None:
        """The day the task is last due: its last milestone, or 31/12 of the year its period
        ends; None when the period runs to the plan's horizon."""
        if self.recurrence is None:
            return self.milestones[-1]
        if self.recurrence.until_year is None:
            return None
        return date(self.recurrence.until_year, 12, 31)


# ---- reading one part of a cell ------------------------------------------------------------


@dataclass(frozen=True)
class _Milestone:
    written: str
    month: int
    year: int | None  # None: the year written after it ("Tháng 01 và tháng 12/2026")
    day: int | None = None  # None: the last day of the month
    # A range names two years, so a month before it cannot tell which one it means.
    lends_year: bool = True


@dataclass(frozen=True)
class _Period:
    written: str
    every: ReportEvery
    until_year: int | None


@dataclass(frozen=True)
class _Until:
    written: str
    year: int


_Part = _Milestone | _Period | _Until

# Milestones in one cell are separated by commas, semicolons or "và". Line breaks are not
# separators: a cell wrapped by hand ("Tháng 5\nnăm 2026") would otherwise read as two deadlines.
_SEPARATOR = re.compile(r"\s*[,;]\s*|\s+(?:và|va)\s+", re.IGNORECASE)
# "Ð" (U+00D0, the Icelandic eth) looks like "Đ" and turns up in its place in Vietnamese
# documents, typed or converted from old fonts.
_DASHES = re.compile("[\u2010-\u2015\u2212]")

_DATE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})")
_MONTH = re.compile(r"thang (\d{1,2})(?:(?:/| nam )(\d{4}))?")
_QUARTER = re.compile(r"quy ([ivx]+|\d)(?:(?:/| nam )(\d{4}))?")
_HALF = re.compile(r"0?6 thang (dau|cuoi) nam(?: (\d{4}))?")
_YEAR = re.compile(r"(?:nam )?(\d{4})")
_RANGE = re.compile(r"(?:giai doan |nam )?(\d{4})-(\d{4})")
_END_YEAR = r"den (?:het )?(?:nam )?(\d{4})"
_UNTIL = re.compile(_END_YEAR)

_PERIODS = {
    # Ongoing work has no period of its own; the product asks for a report every quarter, the
    # rhythm of the province's progress reports.
    "thuong xuyen": ReportEvery.QUARTER,
    "hang thang": ReportEvery.MONTH,
    "dinh ky hang thang": ReportEvery.MONTH,
    "hang quy": ReportEvery.QUARTER,
    "dinh ky hang quy": ReportEvery.QUARTER,
    "dinh ky 6 thang": ReportEvery.HALF,
    "hang nam": ReportEvery.YEAR,
    "dinh ky hang nam": ReportEvery.YEAR,
}
_PERIOD = re.compile(f"({'|'.join(_PERIODS)})(?: {_END_YEAR})?")
_QUARTERS = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def _fold(written: str) -> str:
    """The part as it is matched: no diacritics, lower case, single spaces, ASCII dashes, no
    space around / . - and no trailing period."""
    bare = without_diacritics(written)
    spaced = " ".join(_DASHES.sub("-", bare).lower().split())
    return re.sub(r" ?([/.-]) ?", r"\1", spaced).removesuffix(".")


def _year(written: str, digits: str) -> int:
    year = int(digits)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DeadlineTextError(
            f"'{written}': the year {year} is outside {FIRST_YEAR} to {LAST_YEAR}"
        )
    return year


def _year_if_written(written: str, digits: str | None) -> int | None:
    return None if digits is None else _year(written, digits)


def _month(written: str, digits: str) -> int:
    month = int(digits)
    if not 1 <= month <= 12:
        raise DeadlineTextError(f"'{written}': there is no month {month}")
    return month


def _read_part(written: str) -> _Part:
    folded = _fold(written)
    if m := _DATE.fullmatch(folded):
        month, year = _month(written, m[3]), _year(written, m[4])
        return _Milestone(written, month, year, day=int(m[1]))
    if m := _MONTH.fullmatch(folded):
        return _Milestone(written, _month(written, m[1]), _year_if_written(written, m[2]))
    if m := _QUARTER.fullmatch(folded):
        if m[1] not in _QUARTERS:
            raise DeadlineTextError(f"'{written}': there is no quarter {m[1].upper()}")
        return _Milestone(written, 3 * _QUARTERS[m[1]], _year_if_written(written, m[2]))
    if m := _HALF.fullmatch(folded):
        return _Milestone(written, 6 if m[1] == "dau" else 12, _year_if_written(written, m[2]))
    if m := _YEAR.fullmatch(folded):
        return _Milestone(written, 12, _year(written, m[1]))
    if m := _RANGE.fullmatch(folded):
        first, last = _year(written, m[1]), _year(written, m[2])
        if last < first:
            raise DeadlineTextError(f"'{written}': the range ends before it starts")
        return _Milestone(written, 12, last, lends_year=False)
    if m := _PERIOD.fullmatch(folded):
        return _Period(written, _PERIODS[m[1]], _year_if_written(written, m[2]))
    if m := _UNTIL.fullmatch(folded):
        return _Until(written, _year(written, m[1]))
    raise DeadlineTextError(f"'{written}' is not a deadline: {FORMS}")


# ---- the cell as a whole -------------------------------------------------------------------


def _milestone_dates(parts: list[_Part]) -> list[date]:
    """Each milestone's day; one without a year takes the year of the next one that has it."""
    days: list[date] = []
    year_after: int | None = None
    for part in reversed(parts):
        if not isinstance(part, _Milestone):
            continue
        year = part.year if part.year is not None else year_after
        if year is None:
            raise DeadlineTextError(
                f"'{part.written}' has no year: write it after the last month, quarter or half "
                "(Tháng 01 và tháng 12/2026)"
            )
        if part.lends_year:
            year_after = year
        month_days = calendar.monthrange(year, part.month)[1]
        day = month_days if part.day is None else part.day
        if not 1 <= day <= month_days:
            raise DeadlineTextError(
                f"'{part.written}' is not a date: month {part.month:02d}/{year} has "
                f"{month_days} days"
            )
        days.append(date(year, part.month, day))
    return days


def _recurrence(text: str, parts: list[_Part], milestones: tuple[date, ...]) -> Recurrence | None:
    periods = [p for p in parts if isinstance(p, _Period)]
    untils = [p for p in parts if isinstance(p, _Until)]
    if not periods:
        if untils:
            raise DeadlineTextError(
                f"'{untils[0].written}' gives an end year without a period: write the period "
                "before it (Thường xuyên, đến năm 2030)"
            )
        return None
    if len(periods) > 1:
        raise DeadlineTextError(f"'{text.strip()}' names more than one period: keep one")
    end_years = [p.until_year for p in periods if p.until_year is not None]
    end_years += [u.year for u in untils]
    if len(end_years) > 1:
        raise DeadlineTextError(f"'{text.strip()}' gives more than one end year: keep one")
    until_year = end_years[0] if end_years else None
    if until_year is not None and milestones and until_year < milestones[-1].year:
        raise DeadlineTextError(
            f"'{text.strip()}': the period ends in {until_year}, before the milestone "
            f"{milestones[-1]:%d/%m/%Y}"
        )
    return Recurrence(periods[0].every, until_year)


def parse_deadline(text: str) -> Deadline:
    """Read a deadline cell; raise DeadlineTextError naming the part that cannot be read."""
    written_parts = _SEPARATOR.split(unicodedata.normalize("NFC", text).strip())
    parts = [_read_part(written) for written in written_parts if written]
    if not parts:
        raise DeadlineTextError(f"The deadline is empty: {FORMS}")
    milestones = tuple(sorted(set(_milestone_dates(parts))))
    return Deadline(text, milestones, _recurrence(text, parts, milestones))
