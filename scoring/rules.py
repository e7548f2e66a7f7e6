"""Rule sets as versioned data: `scoring/rules/<version>.yaml`, checked when loaded.

The communes' versions are `v1`, `v2`, …; the agencies' are `agencies-v1`, …, and say so
(`ranks: agencies`). Each set has its own line of versions: `known_versions` and
`rules_in_effect` answer for the communes unless asked for the agencies, and `load_rules`
refuses a version of the other set, so an agencies' rule set never scores the communes nor
the reverse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from scoring.ranked import Ranked

RULES_DIR = Path(__file__).with_name("rules")
# The prefix of each set's versions; the communes' have none.
PREFIX = {Ranked.COMMUNES: "", Ranked.AGENCIES: "agencies-"}
# An agency receives a plan's tasks and nothing else: no weekly obligations, dossiers,
# feedback or criteria (scoring/sources.py), so its rules read its assignments alone.
AGENCY_SOURCES = ("assignments",)


class RulesError(ValueError):
    """An unknown version or a rule file that does not hold together."""


@dataclass(frozen=True)
class Indicator:
    key: str
    label_vi: str
    label_en: str
    source: str
    # Exactly one of good/bad: the figure the share is taken of, against `of`.
    good: str | None
    bad: str | None
    of: str
    weight: float
    green: float
    yellow: float
    # With `good` only: figures that earn part of a good one's credit (0 < credit < 1), such
    # as {"completed_late": 0.5}; what is in `of` and in none of them earns nothing.
    partly: tuple[tuple[str, float], ...] = ()
    # The rule in words, shown with every point it loses.
    explain_vi: str | None = None
    explain_en: str | None = None

    def describe(self) -> str:
        credited = "".join(f" + {credit:g} × {figure}" for figure, credit in self.partly)
        if self.good and credited:
            share = f"({self.good}{credited}) / {self.of}"
        elif self.good:
            share = f"{self.good} / {self.of}"
        else:
            share = f"1 - {self.bad} / {self.of}"
        return (
            f"{self.key}: value = {share} ({self.source}); weight {self.weight:g}; "
            f"green >= {self.green:g}, yellow >= {self.yellow:g}, red below"
        )


@dataclass(frozen=True)
class Band:
    key: str
    label_vi: str
    label_en: str
    min: float
    # The largest share of a commune's judged assignments (`decided`) that may be overdue and
    # not completed (`overdue_now`) in this band; None: no limit.
    overdue_at_most: float | None = None

    def describe(self) -> str:
        limit = ""
        if self.overdue_at_most is not None:
            limit = f" and overdue_now / decided <= {self.overdue_at_most:g}"
        return f"{self.key}: score >= {self.min:g}{limit}"


@dataclass(frozen=True)
class RuleSet:
    version: str
    effective_from: date
    indicators: tuple[Indicator, ...]
    bands: tuple[Band, ...]
    # What the rule set ranks: the communes, or the agencies.
    ranks: Ranked = Ranked.COMMUNES

    def band_for(self, score: float, overdue_share: float = 0.0) -> Band:
        """The best band whose minimum the score reaches and whose limit on assignments
        overdue and not completed the commune keeps within."""
        for band in self.bands:
            if score >= band.min and (
                band.overdue_at_most is None or overdue_share <= band.overdue_at_most
            ):
                return band
        return self.bands[-1]

    @property
    def limits_bands(self) -> bool:
        return any(b.overdue_at_most is not None for b in self.bands)

    def describe_bands(self) -> str:
        return "; ".join(b.describe() for b in self.bands)


def _parse(raw: dict[str, Any], origin: str) -> RuleSet:
    try:
        indicators = tuple(
            Indicator(
                key=str(i["key"]),
                label_vi=str(i["label_vi"]),
                label_en=str(i["label_en"]),
                source=str(i.get("source", "assignments")),
                good=i.get("good"),
                bad=i.get("bad"),
                of=str(i["of"]),
                weight=float(i["weight"]),
                green=float(i["green"]),
                yellow=float(i["yellow"]),
                partly=tuple(
                    (str(figure), float(credit))
                    for figure, credit in (i.get("partly") or {}).items()
                ),
                explain_vi=i.get("explain_vi"),
                explain_en=i.get("explain_en"),
            )
            for i in raw["indicators"]
        )
        bands = tuple(
            Band(
                key=str(b["key"]),
                label_vi=str(b["label_vi"]),
                label_en=str(b["label_en"]),
                min=float(b["min"]),
                overdue_at_most=(
                    float(b["overdue_at_most"]) if b.get("overdue_at_most") is not None else None
                ),
            )
            for b in raw["bands"]
        )
        effective = raw["effective_from"]
        if not isinstance(effective, date):
            effective = date.fromisoformat(str(effective))
        rules = RuleSet(
            version=str(raw["version"]),
            effective_from=effective,
            indicators=indicators,
            bands=bands,
            ranks=Ranked(raw.get("ranks", Ranked.COMMUNES)),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise RulesError(f"{origin}: {e!r}") from e
    for i in indicators:
        if (i.good is None) == (i.bad is None):
            raise RulesError(f"{origin}: indicator {i.key} needs exactly one of good/bad")
        if i.weight < 0 or not 0 <= i.yellow <= i.green <= 1:
            raise RulesError(f"{origin}: indicator {i.key}: weight >= 0, 0 <= yellow <= green <= 1")
        if i.partly and i.good is None:
            raise RulesError(f"{origin}: indicator {i.key}: partly goes with good")
        if any(not 0 < credit < 1 for _, credit in i.partly):
            raise RulesError(f"{origin}: indicator {i.key}: a partial credit is between 0 and 1")
    if rules.ranks is Ranked.AGENCIES:
        for i in indicators:
            if i.source not in AGENCY_SOURCES:
                raise RulesError(
                    f"{origin}: indicator {i.key}: an agency's figures come from "
                    f"{', '.join(AGENCY_SOURCES)} only, not {i.source}"
                )
    for b in bands:
        if b.overdue_at_most is not None and not 0 <= b.overdue_at_most <= 1:
            raise RulesError(f"{origin}: band {b.key}: 0 <= overdue_at_most <= 1")
    if [b.min for b in bands] != sorted((b.min for b in bands), reverse=True) or bands[-1].min > 0:
        raise RulesError(f"{origin}: bands go from the highest minimum down to 0")
    return rules


def _ranks(version: str) -> Ranked:
    """The set a version's name says it ranks."""
    return next(
        (r for r, prefix in PREFIX.items() if prefix and version.startswith(prefix)),
        Ranked.COMMUNES,
    )


@cache
def load_rules(version: str, ranks: Ranked = Ranked.COMMUNES) -> RuleSet:
    """The rule set `version` of the set `ranks` (the communes unless asked)."""
    known = ", ".join(known_versions(ranks))
    if not version.replace("-", "").replace("_", "").isalnum():
        raise RulesError(f"no rule set {version!r}")
    path = RULES_DIR / f"{version}.yaml"
    if not path.is_file() or _ranks(version) is not ranks:
        raise RulesError(f"no rule set {version!r} for the {ranks} (known: {known})")
    rules = _parse(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
    if rules.version != version:
        raise RulesError(f"{path.name} says version {rules.version}")
    if rules.ranks is not ranks:
        raise RulesError(f"{path.name} ranks the {rules.ranks}; its name says the {ranks}")
    return rules


def _number(version: str) -> int:
    digits = version.removeprefix(PREFIX[_ranks(version)]).lstrip("v")
    return int(digits) if digits.isdigit() else 0


def known_versions(ranks: Ranked = Ranked.COMMUNES) -> list[str]:
    """The versions of one set's rule sets, oldest first (the communes' unless asked)."""
    return sorted(
        (p.stem for p in RULES_DIR.glob("*.yaml") if _ranks(p.stem) is ranks),
        key=lambda v: (_number(v), v),
    )


def rules_in_effect(day: date, ranks: Ranked = Ranked.COMMUNES) -> RuleSet:
    """The rule set with the latest effective date on or before `day` (the earliest if none),
    of the communes' rule sets unless asked for the agencies'. Of two with the same effective
    date, the later version: it was published to replace the other before that date came (v4
    replaces v2, v5 replaces v3)."""
    sets = sorted(
        (load_rules(v, ranks) for v in known_versions(ranks)),
        key=lambda r: (r.effective_from, _number(r.version)),
    )
    chosen = sets[0]
    for rules in sets:
        if rules.effective_from <= day:
            chosen = rules
    return chosen
