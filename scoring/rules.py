"""Rule sets as versioned data: `scoring/rules/<version>.yaml`, checked when loaded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).with_name("rules")


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

    def describe(self) -> str:
        share = f"{self.good} / {self.of}" if self.good else f"1 - {self.bad} / {self.of}"
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


@dataclass(frozen=True)
class RuleSet:
    version: str
    effective_from: date
    indicators: tuple[Indicator, ...]
    bands: tuple[Band, ...]

    def band_for(self, score: float) -> Band:
        for band in self.bands:
            if score >= band.min:
                return band
        return self.bands[-1]


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
            )
            for i in raw["indicators"]
        )
        bands = tuple(
            Band(
                key=str(b["key"]),
                label_vi=str(b["label_vi"]),
                label_en=str(b["label_en"]),
                min=float(b["min"]),
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
        )
    except (KeyError, TypeError, ValueError) as e:
        raise RulesError(f"{origin}: {e!r}") from e
    for i in indicators:
        if (i.good is None) == (i.bad is None):
            raise RulesError(f"{origin}: indicator {i.key} needs exactly one of good/bad")
        if i.weight < 0 or not 0 <= i.yellow <= i.green <= 1:
            raise RulesError(f"{origin}: indicator {i.key}: weight >= 0, 0 <= yellow <= green <= 1")
    if [b.min for b in bands] != sorted((b.min for b in bands), reverse=True) or bands[-1].min > 0:
        raise RulesError(f"{origin}: bands go from the highest minimum down to 0")
    return rules


@cache
def load_rules(version: str) -> RuleSet:
    if not version.replace("-", "").replace("_", "").isalnum():
        raise RulesError(f"no rule set {version!r}")
    path = RULES_DIR / f"{version}.yaml"
    if not path.is_file():
        raise RulesError(f"no rule set {version!r} (known: {', '.join(known_versions())})")
    rules = _parse(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
    if rules.version != version:
        raise RulesError(f"{path.name} says version {rules.version}")
    return rules


def known_versions() -> list[str]:
    return sorted(p.stem for p in RULES_DIR.glob("*.yaml"))


def rules_in_effect(day: date) -> RuleSet:
    """The rule set with the latest effective date on or before `day` (the earliest if none)."""
    sets = sorted((load_rules(v) for v in known_versions()), key=lambda r: r.effective_from)
    chosen = sets[0]
    for rules in sets:
        if rules.effective_from <= day:
            chosen = rules
    return chosen
