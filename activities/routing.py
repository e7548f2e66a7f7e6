"""Classifying community feedback: which service category it is about, and which commune must
answer it. Pure and deterministic: the same text always lands in the same place.

Commune names are matched on a folded form of the text (lower case, no diacritics, đ as d, no
apostrophes), so "Phường Tân An", "phuong tan an" and "P. Tân An" are one place. The 102 names
come from `vietnam-provinces`; the names people still write since the 2025 merger (the former
city of Buôn Ma Thuột, district towns, a few merged wards) come from `db/legacy_places.csv`,
each with the basis of its successor."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from db.communes import communes_of_province
from vocabulary.text import without_diacritics

LEGACY_PLACES_CSV = Path(__file__).resolve().parent.parent / "db" / "legacy_places.csv"


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    keywords: tuple[str, ...]


# Open311 services. Keywords are matched folded, as whole words; a longer keyword weighs more.
SERVICES: tuple[Service, ...] = (
    Service(
        "lighting",
        "Đèn chiếu sáng công cộng",
        "Đèn đường hỏng, tắt, thiếu chiếu sáng",
        ("đèn đường", "đèn chiếu sáng", "bóng đèn", "tối om", "không sáng", "đèn hỏng", "cột đèn"),
    ),
    Service(
        "roads",
        "Đường sá, cầu, giao thông",
        "Đường hư hỏng, ổ gà, sụt lún, cầu yếu, biển báo",
        (
            "ổ gà",
            "ổ voi",
            "sụt lún",
            "mặt đường",
            "hư hỏng",
            "xuống cấp",
            "cầu",
            "biển báo",
            "giao thông",
            "nứt",
            "lầy lội",
            "đường đất",
        ),
    ),
    Service(
        "waste",
        "Rác thải, vệ sinh môi trường",
        "Rác không được thu gom, mùi hôi, ô nhiễm, xả thải",
        (
            "rác",
            "bãi rác",
            "mùi hôi",
            "hôi thối",
            "xả thải",
            "ô nhiễm",
            "thu gom",
            "nước thải",
            "xác động vật",
            "khói bụi",
        ),
    ),
    Service(
        "water",
        "Cấp, thoát nước, ngập úng",
        "Mất nước, nước bẩn, cống tắc, ngập",
        (
            "ngập",
            "ngập úng",
            "mất nước",
            "nước sạch",
            "cống",
            "thoát nước",
            "nước máy",
            "vỡ ống",
            "ống nước",
            "nước đục",
        ),
    ),
    Service(
        "order",
        "Trật tự đô thị, xây dựng, tiếng ồn",
        "Lấn chiếm vỉa hè, xây dựng trái phép, tiếng ồn",
        (
            "lấn chiếm",
            "vỉa hè",
            "trái phép",
            "không phép",
            "tiếng ồn",
            "karaoke",
            "lòng đường",
            "đỗ xe",
            "họp chợ",
            "ồn ào",
        ),
    ),
    Service(
        "public_service",
        "Thủ tục hành chính, thái độ phục vụ",
        "Hồ sơ trễ hẹn, thủ tục, thái độ cán bộ",
        (
            "hồ sơ",
            "thủ tục",
            "cán bộ",
            "trễ hẹn",
            "giấy tờ",
            "một cửa",
            "chứng thực",
            "khai sinh",
            "nhũng nhiễu",
            "thái độ",
            "sổ đỏ",
            "giấy chứng nhận",
        ),
    ),
    Service("other", "Khác", "Những phản ánh khác", ()),
)
SERVICE_CODES = frozenset(s.code for s in SERVICES)
OTHER = "other"

# Written before a place name: "phường", "xã", "p.", "tp", "thị trấn", "huyện", "thị xã".
_PREFIX = re.compile(r"(?:phuong|xa|p|tp|thanh pho|thi tran|tt|huyen|h|thi xa|tx)\s$")
# The province's own names: never a commune ("tỉnh Phú Yên" is not Phường Phú Yên).
_PROVINCE = re.compile(r"\btinh (?:dak lak|phu yen)\b|\bdak lak\b")
_COMMUNE_PREFIX = re.compile(r"^(?:phuong|xa|dac khu)\s+")


def fold(text: str) -> str:
    """Lower case without diacritics, đ as d, no apostrophes, words separated by one space."""
    bare = without_diacritics(text).lower()
    bare = re.sub(r"['’ʼ`]", "", bare)
    return re.sub(r"[^a-z0-9]+", " ", bare).strip()


@dataclass(frozen=True)
class _Alias:
    pattern: re.Pattern[str]
    commune_code: str
    words: int
    # Written with its prefix ("phuong tan an"): counts as if a prefix preceded it.
    prefixed: bool


def _alias(folded: str, code: str, prefixed: bool) -> _Alias:
    pattern = re.compile(rf"(?<![a-z0-9]){re.escape(folded)}(?![a-z0-9])")
    return _Alias(pattern, code, len(folded.split()), prefixed)


@lru_cache(maxsize=1)
def _aliases() -> tuple[_Alias, ...]:
    aliases: list[_Alias] = []
    for commune in communes_of_province():
        full = fold(commune.name)
        aliases.append(_alias(full, commune.code, True))
        aliases.append(_alias(_COMMUNE_PREFIX.sub("", full), commune.code, False))
    with LEGACY_PLACES_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            full = fold(row["legacy_name"])
            bare = re.sub(r"^(?:thanh pho|thi tran|thi xa|huyen|phuong|xa)\s+", "", full)
            aliases.append(_alias(full, row["commune_code"], bare != full))
            # Without its prefix only when that is not a bare single word ("Lắk").
            if bare != full and len(bare.split()) >= 2:
                aliases.append(_alias(bare, row["commune_code"], False))
    return tuple(aliases)


def find_commune(text: str) -> str | None:
    """The commune a text names, or None. Several names: the one written after a prefix
    ("xã", "phường", "thị trấn" …) wins, then the longer name, then the first written."""
    folded = _PROVINCE.sub(" ", fold(text))
    best: tuple[int, int, int] | None = None
    found: str | None = None
    for alias in _aliases():
        for match in alias.pattern.finditer(folded):
            prefixed = alias.prefixed or bool(_PREFIX.search(folded[: match.start()]))
            score = (1 if prefixed else 0, alias.words, -match.start())
            if best is None or score > best:
                best, found = score, alias.commune_code
    return found


@lru_cache(maxsize=1)
def _keyword_patterns() -> tuple[tuple[str, re.Pattern[str], int], ...]:
    return tuple(
        (
            service.code,
            re.compile(rf"(?<![a-z0-9]){re.escape(fold(k))}(?![a-z0-9])"),
            len(k.split()),
        )
        for service in SERVICES
        for k in service.keywords
    )


def classify_service(text: str) -> str:
    """The service category whose keywords weigh most in the text; `other` if none."""
    folded = fold(text)
    weights: dict[str, int] = {}
    for code, pattern, words in _keyword_patterns():
        hits = len(pattern.findall(folded))
        if hits:
            weights[code] = weights.get(code, 0) + hits * words
    if not weights:
        return OTHER
    order = [s.code for s in SERVICES]
    return max(weights, key=lambda code: (weights[code], -order.index(code)))


@dataclass(frozen=True)
class Classification:
    service_code: str
    commune_code: str | None
    # "chosen" when the citizen chose it, "classified" when read from the text, "none".
    service_method: str
    commune_method: str


def classify(
    description: str,
    address: str = "",
    chosen_service: str | None = None,
    chosen_commune: str | None = None,
) -> Classification:
    """Where a feedback goes: what the citizen chose, or else what its text and address say
    (the address first: it names the place more reliably than the story does)."""
    if chosen_service in SERVICE_CODES:
        service, service_method = str(chosen_service), "chosen"
    else:
        service, service_method = classify_service(f"{description} {address}"), "classified"
    if chosen_commune:
        return Classification(service, chosen_commune, service_method, "chosen")
    commune = find_commune(address) if address.strip() else None
    commune = commune or find_commune(description)
    return Classification(service, commune, service_method, "classified" if commune else "none")
