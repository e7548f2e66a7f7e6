"""Reporting periods as people name them: a month (2026-11), a quarter (2026-Q4), a year
(2026) or a range of days (from 2026-11-01 to 2026-11-15, both included). Days are days in
Asia/Ho_Chi_Minh; the bounds are turned into UTC instants for the queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
# A range longer than this is refused: nobody reports over more than a few years at once.
MAX_RANGE_DAYS = 366 * 5


class PeriodError(ValueError):
    """A period that cannot be read; the API answers 422 with the message."""


@dataclass(frozen=True)
class Period:
    key: str
    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        """The first instant of the period (UTC)."""
        return datetime.combine(self.first_day, time(), VIETNAM).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (UTC): queries use start <= t < end."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), VIETNAM).astimezone(UTC)


def _month(year: int, month: int) -> Period:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(f"{year:04d}-{month:02d}", first, following - timedelta(days=1))


def parse_period(period: str | None, from_: date | None = None, to: date | None = None) -> Period:
    """`period`, or else `from_` and `to`; anything else raises PeriodError."""
    try:
        return _parse(period, from_, to)
    except PeriodError:
        raise
    except ValueError as e:  # a year out of range: date() says why
        raise PeriodError(f"period {period!r}: {e}") from e


def _parse(period: str | None, from_: date | None, to: date | None) -> Period:
    if period is not None and (from_ is not None or to is not None):
        raise PeriodError("give either period or from/to, not both")
    if period is None:
        if from_ is None or to is None:
            raise PeriodError("give period (2026-11, 2026-Q4 or 2026) or both from and to dates")
        if to < from_:
            raise PeriodError("to is before from")
        if (to - from_).days > MAX_RANGE_DAYS:
            raise PeriodError(f"a range covers at most {MAX_RANGE_DAYS} days")
        return Period(f"{from_.isoformat()}..{to.isoformat()}", from_, to)
    text = period.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"no month {month} in {text!r}")
        return _month(year, month)
    if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", text):
        year, quarter = int(m[1]), int(m[2])
        first = _month(year, 3 * quarter - 2)
        last = _month(year, 3 * quarter)
        return Period(f"{year:04d}-Q{quarter}", first.first_day, last.last_day)
    if m := re.fullmatch(r"(\d{4})", text):
        year = int(m[1])
        return Period(f"{year:04d}", date(year, 1, 1), date(year, 12, 31))
    if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text):
        try:
            return _parse(None, date.fromisoformat(m[1]), date.fromisoformat(m[2]))
        except ValueError as e:
            raise PeriodError(str(e)) from e
    raise PeriodError(
        f"period {text!r} is not a month (2026-11), a quarter (2026-Q4) or a year (2026)"
    )


def month_of(moment: datetime) -> Period:
    day = moment.astimezone(VIETNAM).date()
    return _month(day.year, day.month)


def vietnam_today(moment: datetime) -> date:
    return moment.astimezone(VIETNAM).date()
