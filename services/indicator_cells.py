"""The cells of the offices' indicator sheets, as people write them: a milestone column's header
("Đến hết năm 2026" → 31/12/2026, "Quý II/2026", "Tháng 6/2026" → the last day), a target ("14%",
"≥ 80%", "51–52", "Duy trì ≥ 98%", "Tăng ít nhất 3 bậc", "Hạng 9", "Đạt"), the current figure,
the reporting rhythm, and the kind of figure a row's unit and targets make.

How a target cell is read:
- a number, a percentage or a range (51–52); "≥", "tối thiểu", "ít nhất", "Duy trì" say the
  figure must stay at or above it (direction increase), "≤", "tối đa", "không quá" at or below
  it (direction decrease);
- a rank: "Hạng 10", "Top 10", or a number under the unit "Hạng"/"Bậc"; "Tăng ít nhất 3 bậc"
  (up at least three places) is the rank three places better than the current one, which the
  row gives in the "Hiện trạng" column: a PAR Index at 12th aiming "up at least 3" has the
  target 9 (a rank is better when lower, so its direction is decrease). Without a current rank
  the cell is an error, since the product judges a figure against a figure;
- "Đạt" or "Hoàn thành" alone: a criterion met (yes/no, target 1).
The kind follows: rank for rank wording, percent when the unit or a target says %, amount for a
sum of money, yes/no for "Đạt", count otherwise."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from vocabulary.deadline_text import DeadlineTextError, parse_deadline
from vocabulary.indicators import Direction, IndicatorKind, ReportingRhythm
from vocabulary.text import without_diacritics
from vocabulary.unit_names import normalize

# Focus indicators are reported with the province's progress reports, every quarter, unless a
# "Kỳ báo cáo" column says otherwise.
DEFAULT_RHYTHM = ReportingRhythm.QUARTERLY
RHYTHM_LABELS: dict[ReportingRhythm, str] = {
    ReportingRhythm.MONTHLY: "Hằng tháng",
    ReportingRhythm.QUARTERLY: "Hằng quý",
    ReportingRhythm.YEARLY: "Hằng năm",
}
RHYTHM_FORMS = {
    "hang thang": ReportingRhythm.MONTHLY,
    "thang": ReportingRhythm.MONTHLY,
    "hang quy": ReportingRhythm.QUARTERLY,
    "quy": ReportingRhythm.QUARTERLY,
    "hang nam": ReportingRhythm.YEARLY,
    "nam": ReportingRhythm.YEARLY,
}
MILESTONE_FORMS = (
    "head it with its date: Đến hết năm 2026, Đến năm 2030, Quý II/2026, Tháng 6/2026 or 31/12/2026"
)
# "Mục tiêu đến hết năm 2026", "Đến ngày 30/06/2026": only "đến" marks a header as a
# milestone's, so "Ngày số liệu" is not mistaken for one.
_MILESTONE_PREFIX = re.compile(r"^(?:muc tieu |chi tieu )?(den (?:het )?(?:ngay )?)?")
_BASELINE_PREFIX = re.compile(r"^(?:hien trang|gia tri co so|nam co so)\b")
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_FIGURE = re.compile(rf"^{_NUMBER}(?:-{_NUMBER})?(%)?$")
_RANK_UP = re.compile(r"^tang (?:it nhat |toi thieu )?(\d+) (?:bac|hang)$")
_RANK_AT = re.compile(r"^(?:xep )?(?:hang|top|thu hang|nhom) (\d+)(?:/\d+)?$")
_AT_LEAST = ("duy tri ", "it nhat ", "toi thieu ", "tren ", "dat ", ">=", ">")
_AT_MOST = ("toi da ", "khong qua ", "duoi ", "<=", "<")
_MET = {"dat", "hoan thanh", "co"}
_RANK_UNITS = {"hang", "bac", "thu hang"}
_MONEY_UNITS = {"dong", "nghin dong", "trieu dong", "ty dong", "usd", "trieu usd", "ty usd"}


@dataclass
class Target:
    """One target cell read: its figures (a rise of places keeps them 0 until the current rank
    is known), and what its words said."""

    low: float
    high: float
    percent: bool = False
    direction: Direction | None = None
    rank_up: int | None = None
    rank: bool = False
    met: bool = False


def fold(text: str) -> str:
    """A cell as it is matched: no diacritics, lower case, ASCII comparators and dashes, no
    space around them, single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("≥", ">=").replace("≤", "<=").replace("⩾", ">=").replace("⩽", "<=")
    text = re.sub("[\u2010-\u2015\u2212]", "-", without_diacritics(text).lower())
    text = " ".join(text.split())
    text = re.sub(r"(>=|<=|[<>]) ", r"\1", text)
    return re.sub(r" ?([%-]) ?", r"\1", text).strip(" .:")


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def milestone_date(header: str) -> date | None:
    """The day a milestone column's header names ("Đến hết năm 2026" → 31/12/2026, "Quý II/2026"
    → 30/06/2026), or None when the header is not a date at all; DeadlineTextError when it starts
    like one ("Đến …") but cannot be read."""
    folded = " ".join(without_diacritics(header).lower().split())
    prefix = _MILESTONE_PREFIX.match(folded)
    looks_like_one = prefix is not None and prefix[1] is not None
    rest = folded[prefix.end() :] if prefix is not None else folded
    try:
        deadline = parse_deadline(rest)
    except DeadlineTextError:
        if looks_like_one:
            raise DeadlineTextError(f'"{header}" is not a milestone: {MILESTONE_FORMS}') from None
        return None
    if deadline.recurrence is not None or len(deadline.milestones) != 1:
        raise DeadlineTextError(f'"{header}" names more than one day: {MILESTONE_FORMS}')
    return deadline.milestones[0]


def baseline_date(header: str) -> date | None:
    rest = _BASELINE_PREFIX.sub("", fold(header)).strip(" ()")
    if not rest:
        return None
    try:
        return milestone_date(rest)
    except DeadlineTextError:
        return None


def read_target(text: str) -> Target:
    """One target cell; ValueError with what to write instead."""
    folded = fold(text)
    if folded in _MET:
        return Target(1, 1, met=True)
    if found := _RANK_UP.match(folded):
        places = int(found[1])
        if places < 1:
            raise ValueError(f'"{text}": a rise is at least one place')
        return Target(0, 0, rank=True, rank_up=places)
    if found := _RANK_AT.match(folded):
        return Target(float(found[1]), float(found[1]), rank=True)
    direction: Direction | None = None
    for words, way in ((_AT_LEAST, Direction.INCREASE), (_AT_MOST, Direction.DECREASE)):
        for word in words:
            if folded.startswith(word):
                folded = folded.removeprefix(word).strip()
                direction = direction or way
                # "Duy trì ≥ 98%": a second word of the same sense may follow the first.
                for second in (*_AT_LEAST, *_AT_MOST):
                    if folded.startswith(second):
                        folded = folded.removeprefix(second).strip()
                        if second in _AT_MOST:
                            direction = Direction.DECREASE
                        break
                break
        if direction is not None:
            break
    if found := _FIGURE.match(folded):
        low = _number(found[1])
        high = low if found[2] is None else _number(found[2])
        if low > high:
            raise ValueError(f'"{text}" runs from high to low: write the range low to high')
        return Target(low, high, percent=found[3] is not None, direction=direction)
    raise ValueError(
        f'"{text}" is not a target: write a number (14%, ≥ 80%, Duy trì ≥ 98%), a range '
        "(51–52), a rank (Hạng 10, Tăng ít nhất 3 bậc) or Đạt"
    )


def read_baseline(text: str) -> float:
    folded = fold(text)
    found = re.search(_NUMBER, folded)
    if found is None or not re.fullmatch(rf"(?:hang |thu )?{_NUMBER}(?:/\d+)?%?", folded):
        raise ValueError(f'"{text}" is not a figure: write the current value (12, 45%, Hạng 12)')
    return _number(found[1])


def group_prefix(group: str) -> str:
    """The start of the codes made for a group's rows: the initials of its words, numbers
    whole. "Tổ công tác: chỉ tiêu trọng tâm" is "TCTCTTT", "Kế hoạch 02" is "KH02"."""
    words = re.findall(r"[A-Za-z0-9]+", without_diacritics(group))
    initials = "".join(w if w.isdigit() else w[0].upper() for w in words)
    return initials[:20] or "CT"


def kind_of(unit: str, targets: Sequence[Target]) -> IndicatorKind:
    folded = normalize(unit)
    if any(t.rank for t in targets) or folded in _RANK_UNITS:
        return IndicatorKind.RANK
    if targets and all(t.met for t in targets):
        return IndicatorKind.YES_NO
    if unit.strip() == "%" or any(t.percent for t in targets):
        return IndicatorKind.PERCENT
    if folded in _MONEY_UNITS:
        return IndicatorKind.AMOUNT
    return IndicatorKind.COUNT


def is_baseline_header(header: str) -> bool:
    """ "Hiện trạng", "Hiện trạng năm 2025", "Giá trị cơ sở": the column of the current figure."""
    return _BASELINE_PREFIX.match(fold(header)) is not None
