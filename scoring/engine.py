"""Scorecards and the ranking, from the figures of the registered sources and one rule set.

A commune's score is 100 × Σ weight × value / Σ weight, over the indicators that apply to it
(those whose `of` figure is above zero). A commune with nothing judged in the period has no
score: it is listed with band `not_rated` and ranked after every scored commune. Where a rule
set limits its bands, a commune with too many assignments overdue and not completed falls to
the band it keeps within, and its explanation says so.

Ranking is standard competition ranking ("1, 2, 2, 4") on the score rounded to two decimals:
communes with equal scores share a rank and the next rank skips. Within a tie, and among the
communes not rated, rows are listed by commune code; the order of listing carries no merit.

The province's agencies are scored and ranked the same way, among themselves, under a rule set
of their own (`ranks: agencies`): the rule set says which set `ranking` ranks, so an agency is
never ranked among the communes nor a commune among the agencies. A card keeps the member's
code under `commune_code` whichever the set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from scoring.periods import Period
from scoring.ranked import Ranked
from scoring.rules import Indicator, RulesError, RuleSet
from scoring.sources import SOURCES

NOT_RATED = "not_rated"
NOT_RATED_LABEL_VI = "Chưa xếp loại (không có nhiệm vụ đến hạn)"
NOT_RATED_LABEL_EN = "Not rated (nothing due)"
NO_COLOUR = "none"
# The band limit reads the Government Office's bucket "overdue and not completed" of the
# assignments judged on timeliness.
OVERDUE, JUDGED_ON_TIMELINESS = "overdue_now", "decided"
BAND_LIMIT = "band"


@dataclass
class IndicatorScore:
    key: str
    label_vi: str
    label_en: str
    weight: float
    count: int  # the good (or bad) figure
    of: int
    value: float | None  # 0–1; None: does not apply
    colour: str
    max_points: float
    points: float
    points_lost: float
    rule: str

    @property
    def applies(self) -> bool:
        return self.value is not None


@dataclass
class Scorecard:
    commune_code: str
    name: str
    rules_version: str
    period: str
    score: float | None
    band: str
    band_label_vi: str
    band_label_en: str
    rank: int = 0
    indicators: list[IndicatorScore] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    # Filled for one commune's scorecard: the assignments behind each point lost.
    explanation: list[dict[str, Any]] = field(default_factory=list)
    # The band the score alone reaches, when a limit on overdue assignments lowered it.
    band_limited_from: str | None = None
    band_rule: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "commune_code": self.commune_code,
            "name": self.name,
            "period": self.period,
            "rules_version": self.rules_version,
            "rank": self.rank,
            "score": self.score,
            "band": self.band,
            "band_label_vi": self.band_label_vi,
            "band_label_en": self.band_label_en,
            "colours": {i.key: i.colour for i in self.indicators},
            "indicators": [i.__dict__ | {"applies": i.applies} for i in self.indicators],
            "figures": self.figures,
            "band_rule": self.band_rule,
            "band_limited_from": self.band_limited_from,
            "explanation": self.explanation,
        }


def _colour(indicator: Indicator, value: float | None) -> str:
    if value is None:
        return NO_COLOUR
    if value >= indicator.green:
        return "green"
    return "yellow" if value >= indicator.yellow else "red"


def score_commune(
    rules: RuleSet, period: Period, code: str, name: str, figures: dict[str, dict[str, Any]]
) -> Scorecard:
    """`figures`: {source: {figure: number}} of one commune."""
    shares: list[tuple[Indicator, int, int, float | None]] = []
    for indicator in rules.indicators:
        own = figures[indicator.source]
        of = int(own[indicator.of])
        count = int(own[indicator.good or indicator.bad or ""])
        credited = count + sum(credit * int(own[figure]) for figure, credit in indicator.partly)
        value: float | None = None
        if of > 0:
            value = credited / of if indicator.good else 1 - count / of
        shares.append((indicator, count, of, value))
    weight_applying = sum(i.weight for i, _, _, v in shares if v is not None)
    scores: list[IndicatorScore] = []
    for indicator, count, of, value in shares:
        max_points = 100 * indicator.weight / weight_applying if value is not None else 0.0
        points = max_points * value if value is not None else 0.0
        scores.append(
            IndicatorScore(
                key=indicator.key,
                label_vi=indicator.label_vi,
                label_en=indicator.label_en,
                weight=indicator.weight,
                count=count,
                of=of,
                value=round(value, 4) if value is not None else None,
                colour=_colour(indicator, value),
                max_points=round(max_points, 2),
                points=round(points, 2),
                points_lost=round(max_points - points, 2),
                rule=indicator.describe(),
            )
        )
    flat = {k: v for own in figures.values() for k, v in own.items() if k not in ("name",)}
    flat.pop("commune_code", None)
    if weight_applying == 0:
        return Scorecard(
            code,
            name,
            rules.version,
            period.key,
            None,
            NOT_RATED,
            NOT_RATED_LABEL_VI,
            NOT_RATED_LABEL_EN,
            indicators=scores,
            figures=flat,
            band_rule=rules.describe_bands(),
        )
    total = sum(100 * i.weight / weight_applying * v for i, _, _, v in shares if v is not None)
    score = round(total, 2)
    judged = int(figures["assignments"].get(JUDGED_ON_TIMELINESS, 0))
    overdue = int(figures["assignments"].get(OVERDUE, 0))
    band = rules.band_for(score, overdue / judged if judged else 0.0)
    by_score = rules.band_for(score)
    return Scorecard(
        code,
        name,
        rules.version,
        period.key,
        score,
        band.key,
        band.label_vi,
        band.label_en,
        indicators=scores,
        figures=flat,
        band_limited_from=by_score.key if by_score != band else None,
        band_rule=rules.describe_bands(),
    )


def rank(cards: list[Scorecard]) -> list[Scorecard]:
    """Standard competition ranking; see the module's docstring for the order of ties."""
    ordered = sorted(
        cards,
        key=lambda c: (c.score is None, -(c.score or 0.0), c.commune_code),
    )
    rated = sum(1 for c in ordered if c.score is not None)
    previous: float | None = None
    previous_rank = 0
    for position, card in enumerate(ordered, start=1):
        if card.score is None:
            card.rank = rated + 1
            continue
        if card.score != previous:
            previous, previous_rank = card.score, position
        card.rank = previous_rank
    return ordered


def _figures_by_source(
    session: Session, rules: RuleSet, period: Period, as_of: datetime
) -> dict[str, dict[str, dict[str, Any]]]:
    needed = sorted({i.source for i in rules.indicators} | {"assignments"})
    if rules.ranks is Ranked.COMMUNES:
        return {name: SOURCES[name].figures(session, period, as_of) for name in needed}
    by_source: dict[str, dict[str, dict[str, Any]]] = {}
    for name in needed:
        figures = SOURCES[name].agencies
        if figures is None:
            raise RulesError(f"{rules.version}: the source {name} has no figures for agencies")
        by_source[name] = figures(session, period, as_of)
    return by_source


def ranking(session: Session, rules: RuleSet, period: Period, as_of: datetime) -> list[Scorecard]:
    """Every member of the set the rule set ranks (the province's communes, or its active
    agencies), scored and ranked among themselves: one query per source."""
    by_source = _figures_by_source(session, rules, period, as_of)
    communes = by_source["assignments"]
    cards = [
        score_commune(
            rules,
            period,
            code,
            row["name"],
            {source: by_source[source].get(code, {}) for source in by_source},
        )
        for code, row in communes.items()
    ]
    return rank(cards)


def _record_key(record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted(record.items()))


def _lost_per_record(
    session: Session,
    period: Period,
    as_of: datetime,
    commune_code: str,
    indicator: Indicator,
    scored: IndicatorScore,
    behind: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """With partial credits, each record says what it earned and what it lost: a late
    completion half, say, one overdue and never done all of its share."""
    source = SOURCES[indicator.source]
    credits: dict[tuple[Any, ...], float] = {}
    for figure, credit in indicator.partly:
        for record in source.evidence(session, period, as_of, commune_code, figure, None):
            credits[_record_key(record)] = credit
    share = scored.max_points / scored.of if scored.of else 0.0
    return [
        record
        | {
            "credit": credits.get(_record_key(record), 0.0),
            "points_lost": round(share * (1 - credits.get(_record_key(record), 0.0)), 4),
        }
        for record in behind
    ]


def explain(
    session: Session, rules: RuleSet, period: Period, as_of: datetime, card: Scorecard
) -> Scorecard:
    """Name, for every indicator that lost points, the rule and the records behind it. The list
    keeps the name `assignments` whatever the source; each record names itself by its id field
    (`assignment_id`, `obligation_period_id`, `dossier_id`, `feedback_id`). With partial
    credits each record carries its `credit` and `points_lost`. A band lowered by assignments
    overdue and not completed adds an entry `band` that names them."""
    by_key = {i.key: i for i in rules.indicators}
    for scored in card.indicators:
        if not scored.applies or scored.points_lost <= 0:
            continue
        indicator = by_key[scored.key]
        source = SOURCES[indicator.source]
        if indicator.good:
            behind = source.evidence(
                session, period, as_of, card.commune_code, indicator.of, indicator.good
            )
        else:
            behind = source.evidence(
                session, period, as_of, card.commune_code, indicator.bad or "", None
            )
        per_record: float | None = round(scored.points_lost / len(behind), 4) if behind else None
        if indicator.partly:
            behind = _lost_per_record(
                session, period, as_of, card.commune_code, indicator, scored, behind
            )
            each = {r["points_lost"] for r in behind}
            per_record = each.pop() if len(each) == 1 else None
        card.explanation.append(
            {
                "indicator": scored.key,
                "source": indicator.source,
                "label_vi": scored.label_vi,
                "label_en": scored.label_en,
                "rule": scored.rule,
                "explain_vi": indicator.explain_vi,
                "explain_en": indicator.explain_en,
                "points_lost": scored.points_lost,
                "points_per_assignment": per_record,
                "assignments": behind,
            }
        )
    if card.band_limited_from is not None:
        limited = next(b for b in rules.bands if b.key == card.band_limited_from)
        card.explanation.append(
            {
                "indicator": BAND_LIMIT,
                "source": "assignments",
                "label_vi": f"Xếp loại hạ từ “{limited.label_vi}” do có nhiệm vụ quá hạn "
                "chưa hoàn thành",
                "label_en": f"Band lowered from “{limited.label_en}”: assignments overdue "
                "and not completed",
                "rule": card.band_rule,
                "explain_vi": "Mỗi mức xếp loại chỉ cho phép một tỉ lệ nhiệm vụ quá hạn chưa "
                "hoàn thành (trên số nhiệm vụ đã đến hạn hoặc đã trả lời).",
                "explain_en": "Each band allows at most a share of assignments overdue and "
                "not completed (of those past their deadline or answered).",
                "points_lost": 0.0,
                "points_per_assignment": None,
                "assignments": SOURCES["assignments"].evidence(
                    session, period, as_of, card.commune_code, OVERDUE, None
                ),
            }
        )
    return card
