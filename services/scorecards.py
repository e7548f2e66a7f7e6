"""Reading the scores: the ranking of the communes for a period, one commune's scorecard with
the assignments behind every point lost, its stored snapshots, and a snapshot on request.

The ranking is public within the system. One commune's scorecard and score history name its
assignments, so they follow the commune scoping of the assignments: another commune answers
as a commune that does not exist."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import Commune, ScoreSnapshot
from scoring.engine import Scorecard, explain, ranking
from scoring.periods import Period, PeriodError, month_of, parse_period
from scoring.rollup import medians
from scoring.rules import RulesError, RuleSet
from services.errors import Invalid, NotFound
from services.principals import Principal
from services.scoring import compute, rules_for, snapshot


class RankingRow(BaseModel):
    commune_code: str
    name: str
    rank: int
    score: float | None
    band: str
    band_label_vi: str
    colours: dict[str, str]


class RankingPublic(BaseModel):
    period: str
    rules_version: str
    count: int
    data: list[RankingRow]


class ScoreSnapshotPublic(BaseModel):
    snapshot_date: str
    period: str
    rules_version: str
    commune_code: str
    score: float | None
    band: str
    rank: int
    computed_at: datetime


class ScoreHistoryPublic(BaseModel):
    commune_code: str
    count: int
    data: list[ScoreSnapshotPublic]


class SnapshotTaken(BaseModel):
    period: str
    stored: int


def period_and_rules(
    period: str | None, from_: date | None, to: date | None, rules: str | None
) -> tuple[Period, RuleSet]:
    """The period asked for (a month, a quarter, a year, or from–to) and the rule set that
    scores it (the one in effect, or the version asked for)."""
    try:
        chosen = parse_period(period, from_, to)
        return chosen, rules_for(chosen, rules)
    except (PeriodError, RulesError) as e:
        raise Invalid(str(e)) from e


def ranking_row(card: Scorecard) -> RankingRow:
    return RankingRow(
        commune_code=card.commune_code,
        name=card.name,
        rank=card.rank,
        score=card.score,
        band=card.band,
        band_label_vi=card.band_label_vi,
        colours={i.key: i.colour for i in card.indicators},
    )


async def rank_communes(
    session: AsyncSession, chosen: Period, rule_set: RuleSet, now: datetime
) -> list[Scorecard]:
    """Every commune's card for the period, best first; ties share a rank."""
    return await session.run_sync(lambda s: ranking(s, rule_set, chosen, now))


def ranking_public(chosen: Period, rule_set: RuleSet, cards: list[Scorecard]) -> RankingPublic:
    return RankingPublic(
        period=chosen.key,
        rules_version=rule_set.version,
        count=len(cards),
        data=[ranking_row(c) for c in cards],
    )


def _one_scorecard(
    s: Session, rule_set: RuleSet, chosen: Period, now: datetime, code: str
) -> Scorecard | None:
    cards = compute(s, chosen, rule_set, now, explained=False)
    card = next((c for c in cards if c.commune_code == code), None)
    if card is None:
        return None
    card.figures.update(medians(s, chosen, code))
    return explain(s, rule_set, chosen, now, card)


def _check_commune(user: Principal, commune_code: str) -> None:
    # A commune leader sees their own commune's card only: it names its assignments.
    if not user.may_see(commune_code):
        raise NotFound(f"no commune {commune_code}")


async def scorecard(
    session: AsyncSession,
    user: Principal,
    commune_code: str,
    period: str | None,
    from_: date | None,
    to: date | None,
    rules: str | None,
) -> tuple[Scorecard, Period, RuleSet]:
    """One commune's scorecard: every indicator with its value, colour and points, and for
    every point lost the rule and the assignments behind it; its rank among the communes."""
    _check_commune(user, commune_code)
    chosen, rule_set = period_and_rules(period, from_, to, rules)
    now = datetime.now(UTC)
    card = await session.run_sync(lambda s: _one_scorecard(s, rule_set, chosen, now, commune_code))
    if card is None:
        raise NotFound(f"no commune {commune_code}")
    return card, chosen, rule_set


async def score_history(
    session: AsyncSession,
    user: Principal,
    commune_code: str,
    period: str | None,
    rules: str | None,
    limit: int,
) -> ScoreHistoryPublic:
    """The stored snapshots of one commune, oldest first: the trend of its score."""
    _check_commune(user, commune_code)
    if await session.get(Commune, commune_code) is None:
        raise NotFound(f"no commune {commune_code}")
    query = select(ScoreSnapshot).where(ScoreSnapshot.commune_code == commune_code)
    if period is not None:
        query = query.where(ScoreSnapshot.period == period)
    if rules is not None:
        query = query.where(ScoreSnapshot.rules_version == rules)
    found = await session.scalars(
        query.order_by(ScoreSnapshot.snapshot_date, ScoreSnapshot.period, ScoreSnapshot.id).limit(
            limit
        )
    )
    data = [
        ScoreSnapshotPublic(
            snapshot_date=r.snapshot_date,
            period=r.period,
            rules_version=r.rules_version,
            commune_code=r.commune_code,
            score=r.score,
            band=r.band,
            rank=r.rank,
            computed_at=r.computed_at,
        )
        for r in found
    ]
    return ScoreHistoryPublic(commune_code=commune_code, count=len(data), data=data)


async def take_snapshot(session: AsyncSession, period: str | None) -> SnapshotTaken:
    """Take today's snapshot now; taken already today, nothing new is stored (stored 0)."""
    try:
        chosen = parse_period(period) if period else None
    except PeriodError as e:
        raise Invalid(str(e)) from e
    now = datetime.now(UTC)
    stored = await session.run_sync(lambda s: snapshot(s, now, chosen))
    await session.commit()
    return SnapshotTaken(period=(chosen or month_of(now)).key, stored=stored)
