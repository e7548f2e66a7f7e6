"""Reading the agencies' scores: the province's active agencies (its departments, other
provincial bodies and Party bodies) scored on the plan tasks issued to them and ranked among
themselves, under the agencies' own rule sets (`agencies-v1`, …), never against the communes.

The ranking is public within the system, as the communes' is: every signed-in role reads it.
It answers in the communes' ranking's shape (`RankingPublic`), an agency's code under
`commune_code`, so a client reads both rankings alike."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from scoring.engine import Scorecard, ranking
from scoring.periods import Period, PeriodError, parse_period
from scoring.ranked import Ranked
from scoring.rules import RulesError, RuleSet, load_rules, rules_in_effect
from services.errors import Invalid
from services.scorecards import RankingPublic, ranking_public


def agency_period_and_rules(
    period: str | None, from_: date | None, to: date | None, rules: str | None
) -> tuple[Period, RuleSet]:
    """The period asked for (a month, a quarter, a year, or from–to) and the agencies' rule set
    that scores it (the one in effect on its last day, or the version asked for; a communes'
    version is refused)."""
    try:
        chosen = parse_period(period, from_, to)
        if rules:
            return chosen, load_rules(rules, Ranked.AGENCIES)
        return chosen, rules_in_effect(chosen.last_day, Ranked.AGENCIES)
    except (PeriodError, RulesError) as e:
        raise Invalid(str(e)) from e


async def rank_agencies(
    session: AsyncSession, chosen: Period, rule_set: RuleSet, now: datetime
) -> list[Scorecard]:
    """Every active agency's card for the period, best first; ties share a rank, and an agency
    with nothing judged in it is listed last, not rated."""
    return await session.run_sync(lambda s: ranking(s, rule_set, chosen, now))


async def agency_ranking(
    session: AsyncSession,
    period: str | None,
    from_: date | None,
    to: date | None,
    rules: str | None,
    now: datetime,
) -> RankingPublic:
    """The agencies' ranking for a period, in the communes' ranking's shape."""
    chosen, rule_set = agency_period_and_rules(period, from_, to, rules)
    cards = await rank_agencies(session, chosen, rule_set, now)
    return ranking_public(chosen, rule_set, cards)
