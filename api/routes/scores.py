"""Scores: the ranking of the communes, the ranking of the agencies, one commune's scorecard
with the assignments behind every point lost, the stored snapshots, and a snapshot on request.

The ranking is public within the system: every role reads it, province-wide. One commune's
scorecard and score history name its assignments, so they follow the commune scoping of the
assignments (a leader: their own commune; an official in charge: theirs; another commune
answers 404, as a commune that does not exist). An explanation names assignments by id only.
The agencies are ranked among themselves under their own rule sets, read by every role too;
`/scores/agencies` is declared before any `/scores/{…}` route could take "agencies"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentUser, OfficeUser
from api.error_schemas import ErrorBody
from services import agency_scores, scorecards
from services.scorecards import RankingPublic, ScoreHistoryPublic, SnapshotTaken
from serving import exports
from serving.deps import SessionDep

router = APIRouter(tags=["scores"])
Format = Literal["json", "csv", "xlsx"]
PeriodQuery = Annotated[
    str | None, Query(description="2026-11 (month), 2026-Q4 (quarter) or 2026 (year)")
]
FromQuery = Annotated[date | None, Query(alias="from", description="first day, with `to`")]
ToQuery = Annotated[date | None, Query(description="last day (included), with `from`")]
RulesQuery = Annotated[str | None, Query(description="a rule set version; default: in effect")]


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
    chosen, rule_set = scorecards.period_and_rules(period, from_, to, rules)
    cards = await scorecards.rank_communes(session, chosen, rule_set, datetime.now(UTC))
    if format != "json":
        return exports.ranking_download(cards, chosen.key, rule_set.version, format)
    return scorecards.ranking_public(chosen, rule_set, cards)


@router.get(
    "/scores/agencies",
    response_model=RankingPublic,
    responses={
        422: {
            "model": ErrorBody,
            "description": "A period that cannot be read, or a rule set that is not the "
            "agencies' (a communes' version such as v6 included)",
        }
    },
)
async def list_agency_scores(
    user: CurrentUser,
    session: SessionDep,
    period: PeriodQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
    rules: Annotated[
        str | None, Query(description="an agencies' rule set version; default: in effect")
    ] = None,
) -> RankingPublic:
    """The ranking of the province's active agencies for a period, among themselves and under
    the agencies' rule set (`agencies-v1`, …), in the shape of the communes' ranking: an
    agency's code under `commune_code`. Those with nothing due in it are listed with no score
    and band `not_rated`, ranked last; ties share a rank (1, 2, 2, 4). No commune is listed.
    A period that cannot be read, or a rule set that is not the agencies', answers 422."""
    return await agency_scores.agency_ranking(session, period, from_, to, rules, datetime.now(UTC))


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
    card, chosen, rule_set = await scorecards.scorecard(
        session, user, commune_code, period, from_, to, rules
    )
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
    return await scorecards.score_history(session, user, commune_code, period, rules, limit)


@router.post(
    "/scores/snapshots",
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_200_OK: {
            "model": SnapshotTaken,
            "description": "Taken already today: nothing new stored (stored 0)",
        }
    },
)
async def take_score_snapshot(
    user: OfficeUser, session: SessionDep, response: Response, period: PeriodQuery = None
) -> SnapshotTaken:
    """Take today's snapshot now (the office; the API also takes one every day). Taken
    already today: nothing new is stored (200, stored 0)."""
    taken = await scorecards.take_snapshot(session, period)
    if taken.stored == 0:
        response.status_code = status.HTTP_200_OK
    return taken
