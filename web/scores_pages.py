"""The ranking page with its downloads, and a commune's page: its scorecard explained, the
trend of its score from the stored snapshots (an inline SVG chart), its assignments and its
people. Scores are public within the system; a leader sees only their own commune's page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Commune, Person, RosterEntry
from scoring.engine import Scorecard, ranking
from scoring.periods import Period, PeriodError, month_of, parse_period, vietnam_today
from scoring.rules import RulesError, RuleSet
from services import agency_scores, assignments, scorecards
from services.errors import ServiceError
from services.scoring import rules_for
from serving import exports
from serving.deps import SessionDep, SettingsDep
from vocabulary.directives import CLOSED_STATUSES
from web.errors import refusal
from web.render import render
from web.sessions import PageRefused, SignedIn, WebUser

router = APIRouter(include_in_schema=False)
BAND_COLOURS = {
    "excellent": "green",
    "good": "green",
    "completed": "yellow",
    "not_completed": "red",
}
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 200, 32


def band_colour(band: str) -> str:
    return BAND_COLOURS.get(band, "grey")


async def current_ranking(session: AsyncSession, period: Period, now: datetime) -> list[Scorecard]:
    rule_set = rules_for(period, None)
    return await session.run_sync(lambda s: ranking(s, rule_set, period, now))


def _period(period: str | None, now: datetime) -> Period:
    try:
        return parse_period(period) if period else month_of(now)
    except PeriodError as e:
        raise PageRefused(422, str(e)) from e


@router.get("/scores")
async def scores_page(
    request: Request, user: SignedIn, session: SessionDep, period: str | None = None
) -> Response:
    now = datetime.now(UTC)
    chosen = _period(period, now)
    try:
        rule_set = rules_for(chosen, None)
    except RulesError as e:
        raise PageRefused(422, str(e)) from e
    cards = await session.run_sync(lambda s: ranking(s, rule_set, chosen, now))
    return _ranking_page(request, user, chosen, rule_set, cards, "communes")


def _ranking_page(
    request: Request,
    user: WebUser,
    chosen: Period,
    rule_set: RuleSet,
    cards: list[Scorecard],
    ranked: str,
) -> Response:
    """The communes' or the agencies' ranking, in one page's look."""
    return render(
        request,
        "scores.html",
        user,
        period=chosen.key,
        rules=rule_set,
        cards=cards,
        colour=band_colour,
        ranked=ranked,
        base="/scores" if ranked == "communes" else "/scores/agencies",
    )


async def _agency_ranking(
    session: AsyncSession, period: str | None
) -> tuple[Period, RuleSet, list[Scorecard]]:
    """The agencies' cards for the period asked for (this month by default)."""
    now = datetime.now(UTC)
    try:
        chosen, rule_set = agency_scores.agency_period_and_rules(
            period or month_of(now).key, None, None, None
        )
    except ServiceError as e:
        raise refusal(e) from e
    return chosen, rule_set, await agency_scores.rank_agencies(session, chosen, rule_set, now)


@router.get("/scores/agencies")
async def agency_scores_page(
    request: Request, user: SignedIn, session: SessionDep, period: str | None = None
) -> Response:
    """The agencies ranked among themselves on their plan tasks, under their own rule set."""
    chosen, rule_set, cards = await _agency_ranking(session, period)
    return _ranking_page(request, user, chosen, rule_set, cards, "agencies")


@router.get("/scores/agencies/export.{extension}")
async def agency_scores_export(
    extension: str, user: SignedIn, session: SessionDep, period: str | None = None
) -> Any:
    if extension not in ("csv", "xlsx"):
        raise PageRefused(404, "csv or xlsx")
    chosen, rule_set, cards = await _agency_ranking(session, period)
    return exports.ranking_download(cards, chosen.key, rule_set.version, extension)


@router.get("/scores/export.{extension}")
async def scores_export(
    extension: str, user: SignedIn, session: SessionDep, period: str | None = None
) -> Any:
    if extension not in ("csv", "xlsx"):
        raise PageRefused(404, "csv or xlsx")
    try:
        chosen, rule_set = scorecards.period_and_rules(period, None, None, None)
    except ServiceError as e:
        raise refusal(e) from e
    cards = await scorecards.rank_communes(session, chosen, rule_set, datetime.now(UTC))
    return exports.ranking_download(cards, chosen.key, rule_set.version, extension)


def trend_chart(points: list[tuple[str, float | None]]) -> dict[str, Any]:
    """Coordinates of the score line (0–100) over the snapshot days, for an inline SVG."""
    scored = [(day, score) for day, score in points if score is not None]
    inner_w = CHART_WIDTH - 2 * CHART_PAD
    inner_h = CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / max(len(scored) - 1, 1)
    dots = [
        {
            "x": round(CHART_PAD + i * step, 1),
            "y": round(CHART_PAD + inner_h * (1 - score / 100), 1),
            "day": day,
            "score": score,
        }
        for i, (day, score) in enumerate(scored)
    ]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "pad": CHART_PAD,
        "dots": dots,
        "line": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "grid": [
            {"y": round(CHART_PAD + inner_h * (1 - v / 100), 1), "value": v}
            for v in (0, 50, 75, 90, 100)
        ],
    }


def trend_points(
    snapshots: list[Any], card: dict[str, Any], now: datetime
) -> list[tuple[str, float | None]]:
    """The stored daily snapshots, and today's score as computed now when today has none
    yet (snapshots are taken at five past each hour)."""
    points: list[tuple[str, float | None]] = [(s.snapshot_date, s.score) for s in snapshots]
    today = vietnam_today(now).isoformat()
    if not points or points[-1][0] != today:
        points.append((today, card["score"]))
    return points


@router.get("/communes/{commune_code}")
async def commune_page(
    request: Request,
    commune_code: str,
    user: SignedIn,
    session: SessionDep,
    settings: SettingsDep,
    period: str | None = None,
) -> Response:
    commune = await session.get(Commune, commune_code)
    # Another commune's page answers exactly as a commune that does not exist.
    if commune is None or not user.principal.may_see(commune_code):
        raise PageRefused(404, f"Không có xã, phường mã {commune_code}.")
    now = datetime.now(UTC)
    chosen = _period(period, now)
    try:
        found, _, _ = await scorecards.scorecard(
            session, user.principal, commune_code, chosen.key, None, None, None
        )
        history = await scorecards.score_history(
            session, user.principal, commune_code, chosen.key, None, 366
        )
    except ServiceError as e:
        raise refusal(e) from e
    card = found.to_json()
    page = await assignments.assignments_page(
        session, settings, None, commune_code, None, None, 200, 0
    )
    open_ones = [a for a in page.data if a.status not in CLOSED_STATUSES]
    past = [a for a in page.data if a.status in CLOSED_STATUSES]
    people = list(
        await session.execute(
            select(RosterEntry.role, Person.name, Person.email, Person.phone)
            .join(Person, Person.id == RosterEntry.person_id)
            .where(RosterEntry.scope == commune_code)
            .order_by(RosterEntry.role, Person.name)
        )
    )
    return render(
        request,
        "commune.html",
        user,
        commune=commune,
        card=card,
        period=chosen.key,
        chart=trend_chart(trend_points(history.data, card, now)),
        open_ones=open_ones,
        past=past,
        people=people,
        colour=band_colour,
    )
