"""Scores: the ranking of the communes, one commune's scorecard with the assignments behind
every point lost, the stored snapshots, and a snapshot on request.

The ranking is public within the system: every role reads it, province-wide. One commune's
scorecard and score history name its assignments, so they follow the commune scoping of the
assignments (a leader: their own commune; an official in charge: theirs; another commune
answers 404, as a commune that does not exist). An explanation names assignments by id only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import exports
from api.deps import CurrentUser, OfficeUser, check_commune_scope
from db.models import Commune, ScoreSnapshot
from scoring.engine import Scorecard, explain, ranking
from scoring.periods import Period, PeriodError, month_of, parse_period
from scoring.rollup import medians
from scoring.rules import RulesError, RuleSet
from services.scoring import compute, rules_for, snapshot
from serving.deps import SessionDep

router = APIRouter(tags=["scores"])
Format = Literal["json", "csv", "xlsx"]
PeriodQuery = Annotated[
    str | None, Query(description="2026-11 (month), 2026-Q4 (quarter) or 2026 (year)")
]
FromQuery = Annotated[date | None, Query(alias="from", description="first day, with `to`")]
ToQuery = Annotated[date | None, Query(description="last day (included), with `from`")]
RulesQuery = Annotated[str | None, Query(description="a rule set version; default: in effect")]


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


def _period_and_rules(
    period: str | None, from_: date | None, to: date | None, rules: str | None
) -> tuple[Period, RuleSet]:
    try:
        chosen = parse_period(period, from_, to)
        return chosen, rules_for(chosen, rules)
    except (PeriodError, RulesError) as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e


def _row(card: Scorecard) -> RankingRow:
    return RankingRow(
        commune_code=card.commune_code,
        name=card.name,
        rank=card.rank,
        score=card.score,
        band=card.band,
        band_label_vi=card.band_label_vi,
        colours={i.key: i.colour for i in card.indicators},
    )


@router.get("/scores", response_model=RankingPublic)
async def list_scores(
    user: CurrentUser,
    session: SessionDep,
    period: PeriodQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
    rules: RulesQuery = None,
    format: Format = "json",
) -> Any:
    """The ranking of all 102 communes for a period (those with nothing due in it included,
    with no score and band `not_rated`, ranked last). Ties share a rank (1, 2, 2, 4)."""
    chosen, rule_set = _period_and_rules(period, from_, to, rules)
    now = datetime.now(UTC)
    cards = await session.run_sync(lambda s: ranking(s, rule_set, chosen, now))
    name = f"xep-hang-{chosen.key}-{rule_set.version}"
    if format == "csv":
        return exports.csv_response(*exports.ranking_table(cards), name)
    if format == "xlsx":
        header, rows = exports.ranking_table(cards)
        return exports.xlsx_response([("Xếp hạng", header, rows)], name)
    return RankingPublic(
        period=chosen.key,
        rules_version=rule_set.version,
        count=len(cards),
        data=[_row(c) for c in cards],
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


@router.get("/communes/{commune_code}/scorecard")
async def get_scorecard(
    commune_code: str,
    user: CurrentUser,
    session: SessionDep,
    period: PeriodQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
    rules: RulesQuery = None,
    format: Format = "json",
) -> Any:
    """One commune's scorecard: every indicator with its value, colour and points, and for
    every point lost the rule and the assignments behind it; its rank among the 102."""
    # A commune leader sees their own commune's card only: it names its assignments.
    check_commune_scope(user, commune_code, f"no commune {commune_code}")
    chosen, rule_set = _period_and_rules(period, from_, to, rules)
    now = datetime.now(UTC)
    card = await session.run_sync(lambda s: _one_scorecard(s, rule_set, chosen, now, commune_code))
    if card is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no commune {commune_code}")
    name = f"bang-diem-{commune_code}-{chosen.key}-{rule_set.version}"
    if format == "csv":
        return exports.csv_response(*exports.scorecard_table(card), name)
    if format == "xlsx":
        header, rows = exports.scorecard_table(card)
        figures = [[k, v] for k, v in card.figures.items()]
        return exports.xlsx_response(
            [("Bảng điểm", header, rows), ("Số liệu", ["figure", "value"], figures)], name
        )
    return card.to_json()


@router.get("/scores/history")
async def score_history(
    user: CurrentUser,
    session: SessionDep,
    commune_code: str,
    period: str | None = None,
    rules: RulesQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 366,
) -> ScoreHistoryPublic:
    """The stored snapshots of one commune, oldest first: the trend of its score."""
    check_commune_scope(user, commune_code, f"no commune {commune_code}")
    if await session.get(Commune, commune_code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no commune {commune_code}")
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


@router.post("/scores/snapshots", status_code=status.HTTP_201_CREATED)
async def take_score_snapshot(
    user: OfficeUser, session: SessionDep, response: Response, period: PeriodQuery = None
) -> SnapshotTaken:
    """Take today's snapshot now (the office; the API also takes one every day). Taken
    already today: nothing new is stored (200, stored 0)."""
    try:
        chosen = parse_period(period) if period else None
    except PeriodError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e
    now = datetime.now(UTC)
    stored = await session.run_sync(lambda s: snapshot(s, now, chosen))
    await session.commit()
    if stored == 0:
        response.status_code = status.HTTP_200_OK
    return SnapshotTaken(period=(chosen or month_of(now)).key, stored=stored)
