"""Unit names as plans of tasks write them: one cell of a plan's lead or co-ordinating column
("Sở KH&CN, SNV và Sở Tài chính", "Các sở, ban, ngành; UBND các xã, phường") resolved into the
codes of the province's units and communes, the collective names it used, and the partners
outside the province's list. Standard library only."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from vocabulary.text import without_diacritics


class UnitKind(StrEnum):
    """The kinds of `units.csv`."""

    DEPARTMENT = "department"
    PROVINCIAL_BODY = "provincial_body"
    PARTY = "party"


class Collective(StrEnum):
    """A name that plans write for a set of units, by the form the office uses."""

    DEPARTMENTS_AND_BODIES = "Các sở, ban, ngành"
    COMMUNES = "UBND các xã, phường"
    PROVINCIAL_UNITS = "Các cơ quan, đơn vị của tỉnh"


# Every written form of a collective that resolves to it. Matched after `normalize`, so case,
# diacritics, spacing, commas and a trailing "tỉnh" do not matter.
COLLECTIVE_FORMS: dict[Collective, tuple[str, ...]] = {
    Collective.DEPARTMENTS_AND_BODIES: ("Các sở, ban, ngành", "Các sở, ban, ngành của tỉnh"),
    Collective.COMMUNES: (
        "UBND các xã, phường",
        "Các xã, phường",
        "UBND xã, phường",
        "UBND các xã, phường trên địa bàn tỉnh",
    ),
    Collective.PROVINCIAL_UNITS: ("Các cơ quan, đơn vị của tỉnh", "Các cơ quan, đơn vị thuộc tỉnh"),
}

_COLLECTIVE_KINDS: dict[Collective, frozenset[UnitKind]] = {
    Collective.DEPARTMENTS_AND_BODIES: frozenset({UnitKind.DEPARTMENT, UnitKind.PROVINCIAL_BODY}),
    Collective.PROVINCIAL_UNITS: frozenset(UnitKind),
}


@dataclass(frozen=True)
class Unit:
    """One row of the province's list of units; `abbreviations` are the other forms plans use."""

    code: str
    kind: UnitKind
    name: str
    abbreviations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Commune:
    code: str
    name: str  # with its prefix, as the reference data writes it: "Phường Ea Kao"


@dataclass(frozen=True)
class Resolution:
    """What one cell names. `units` holds codes of units and communes in the order written,
    each once, a collective expanded in place; `outside` the pieces that match no known name,
    as written; `collectives` the collective names used."""

    units: tuple[str, ...] = ()
    outside: tuple[str, ...] = ()
    collectives: tuple[Collective, ...] = ()


class UnitNameError(ValueError):
    """The list of units cannot be read without guessing: two units (or a unit and a commune or
    a collective) share a written form or a code, or a form has no letters."""


# Apostrophes sit inside Ede and M'nong names ("Cư M’gar"); plans write them in several shapes
# or leave them out, so they join rather than separate.
_APOSTROPHES = re.compile(r"['’‘ʼ`]")
_NOT_A_WORD = re.compile(r"[\W_]+")
_PHRASES = (
    (re.compile(r"\buy ban nhan dan\b"), "ubnd"),
    (re.compile(r"\bhoi dong nhan dan\b"), "hdnd"),
    (re.compile(r"\bdai bieu quoc hoi\b"), "dbqh"),
)
# Plans write the province's units with or without "tỉnh" and the province's name after them.
_PROVINCE_SUFFIX = re.compile(r"(?: tinh)?(?: dak lak| daklak)?$")


def normalize(name: str) -> str:
    """The form two writings of one name share: lower case, no diacritics ("đ" is "d"), "&" as
    "va", "Ủy ban nhân dân" as "ubnd" (and "Hội đồng nhân dân", "đại biểu Quốc hội" as "hdnd",
    "dbqh"), no punctuation, single spaces, and no trailing "tỉnh", "Đắk Lắk" or "tỉnh Đắk Lắk".
    "Sở Nội vụ tỉnh" and "so noi vu" are both "so noi vu"; "Văn phòng UBND tỉnh" and "Văn phòng
    Ủy ban nhân dân tỉnh" are both "van phong ubnd"."""
    text = without_diacritics(name).casefold()
    text = _APOSTROPHES.sub("", text).replace("&", " va ")
    text = " ".join(_NOT_A_WORD.sub(" ", text).split())
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return _PROVINCE_SUFFIX.sub("", text)


# Lines and semicolons always separate units; commas, "và" and "&" separate them too but also
# occur inside names ("Sở Văn hóa, Thể thao và Du lịch"), so they are decided by the names.
_LINES = re.compile(r"[;\n\r]+")
_TOKENS = re.compile(r",|&|[^\s,&]+")
_CONJUNCTIONS = frozenset({"và", "va", "&"})
# How far past a known name's own words a written form may run: "tỉnh Đắk Lắk".
_SUFFIX_WORDS = 3


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    separates: bool  # a comma, a conjunction, or punctuation alone such as "-"


def _tokens(segment: str) -> list[_Token]:
    return [
        _Token(
            m.start(),
            m.end(),
            m.group() == ","
            or unicodedata.normalize("NFC", m.group().casefold()) in _CONJUNCTIONS
            or not normalize(m.group()),
        )
        for m in _TOKENS.finditer(segment)
    ]


def _written_words(form: str, key: str) -> int:
    """The most words `form` may take in a plan: as listed, or with each "UBND", "HĐND" and
    "ĐBQH" of it spelled out ("Ủy ban nhân dân", four words where the key has one)."""
    listed = sum(1 for token in _tokens(form) if not token.separates)
    shortened = sum(key.split().count(short) for _, short in _PHRASES)
    return max(listed, key.count(" ") + 1 + 3 * shortened)


# What a written form resolves to: a unit's or commune's code, or a collective.
_Target = str | Collective


class UnitDirectory:
    """The province's units and communes by every form a plan writes them in."""

    def __init__(self, units: Iterable[Unit], communes: Iterable[Commune]) -> None:
        units = tuple(units)
        communes = tuple(communes)
        self._members: dict[Collective, tuple[str, ...]] = {
            collective: tuple(u.code for u in units if u.kind in kinds)
            for collective, kinds in _COLLECTIVE_KINDS.items()
        }
        self._members[Collective.COMMUNES] = tuple(c.code for c in communes)
        self._forms: dict[str, _Target] = {}
        self._longest = 0  # the most words a known form may take when written out
        owners: dict[str, str] = {}  # form -> the name of what it resolves to, for errors
        codes: set[str] = set()

        def add(form: str, target: _Target, owner: str) -> None:
            key = normalize(form)
            if not key:
                raise UnitNameError(f'"{form}" of {owner} has no letters to match')
            known = self._forms.get(key)
            if known is not None and known != target:
                raise UnitNameError(
                    f'"{form}" is written for both {owners[key]} and {owner}; '
                    "keep it for one of them only"
                )
            self._forms[key] = target
            owners[key] = owner
            self._longest = max(self._longest, _written_words(form, key))

        for code, name in [(u.code, u.name) for u in units] + [(c.code, c.name) for c in communes]:
            if code in codes:
                raise UnitNameError(f'the code "{code}" is given twice, the second to "{name}"')
            codes.add(code)
        for collective, forms in COLLECTIVE_FORMS.items():
            for form in forms:
                add(form, collective, f'the collective "{collective.value}"')
        for unit in units:
            for form in (unit.name, *unit.abbreviations):
                add(form, unit.code, f"{unit.name} ({unit.code})")
        for commune in communes:
            # A commune is addressed through its committee as often as by its name.
            for form in (commune.name, f"UBND {commune.name}"):
                add(form, commune.code, f"{commune.name} ({commune.code})")

    def resolve(self, cell: str) -> Resolution:
        """The units a plan's cell names. At each piece the longest known form wins, so
        "Sở Dân tộc và Tôn giáo và Sở Tư pháp" is two units; a known form counts only where a
        separator or the end follows it, and text that matches nothing up to the next separator
        is an outside partner ("Viettel Đắk Lắk", "các đơn vị liên quan"). An empty cell
        resolves to nothing."""
        targets: list[_Target] = []
        outside: list[str] = []
        for segment in _LINES.split(cell):
            self._resolve_segment(segment, targets, outside)
        units: dict[str, None] = {}
        collectives: dict[Collective, None] = {}
        for target in targets:
            if isinstance(target, Collective):
                collectives[target] = None
                units.update(dict.fromkeys(self._members[target]))
            else:
                units[target] = None
        partners: dict[str, str] = {}
        for piece in outside:
            partners.setdefault(normalize(piece), piece)
        return Resolution(
            units=tuple(units),
            outside=tuple(partners.values()),
            collectives=tuple(collectives),
        )

    def _resolve_segment(self, segment: str, targets: list[_Target], outside: list[str]) -> None:
        tokens = _tokens(segment)
        i = 0
        while i < len(tokens):
            if tokens[i].separates:
                i += 1
                continue
            end, target = self._longest_form(segment, tokens, i)
            if target is not None:
                targets.append(target)
                i = end
                continue
            end = i
            while end < len(tokens) and not tokens[end].separates:
                end += 1
            piece = segment[tokens[i].start : tokens[end - 1].end].strip(" \t.:+*•")
            outside.append(piece)
            i = end

    def _longest_form(
        self, segment: str, tokens: list[_Token], start: int
    ) -> tuple[int, _Target | None]:
        """The end of the longest known form starting at `start` that a separator or the end
        of the segment follows, and what it resolves to."""
        found: tuple[int, _Target | None] = (start, None)
        words = 0
        for end in range(start + 1, len(tokens) + 1):
            last = tokens[end - 1]
            if last.separates:
                continue
            words += 1
            if words > self._longest + _SUFFIX_WORDS:
                break
            if end < len(tokens) and not tokens[end].separates:
                continue
            target = self._forms.get(normalize(segment[tokens[start].start : last.end]))
            if target is not None:
                found = (end, target)
        return found
