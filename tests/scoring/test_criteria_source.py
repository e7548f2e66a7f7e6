"""The commune criteria in the scorecard (rule set v6, source `criteria`), from values recorded
and verified through the indicators' use cases, scored for March 2028 under v6 and under v5.

The group CRITERIA_GROUP: TCX-01 yes/no (by 2028-12-31); TCX-02 a share that must rise, 60 by
2028-06-30 then 80 by 2028-12-31 (in force at 31 March: 60); TCX-03 a share that must fall to
5–10 by 2028-12-31 (met at 10 or less). Beside them, a province's own indicator of the group
and a commune criterion of another group, which count for nothing.

- A (24133): TCX-01 1, TCX-02 65, TCX-03 12 → 2 met of 3; one dossier finished on time.
- B (24121): TCX-01 0 then 1, TCX-02 70 (a 50 of 1 April is after the period) → 2 of 2.
- C (24163): TCX-01 1 from its leader, waiting; TCX-02 55 corrected to 62; TCX-03 10.5 →
  1 of 2; 2 of 3 once the office accepts the leader's 1.
- E (22015): TCX-03 4 (below the range: better than it) → 1 of 1.
- D (24175) and the others reported nothing: the criteria do not apply to them.

v6 (dossiers 20 and criteria 30 applying for A): A (20 × 1 + 30 × 2/3) / 50 = 80.00, its
criteria worth 60 points of which it earns 40 (TCX-03 loses 20); B and E 100; C 50.00, then
66.67. v5 scores the same month as before: A 100 on its dossier, the others not rated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.engine import make_async_engine, make_engine
from db.models import Dossier
from scoring.criteria import CRITERIA_GROUP, Target, criteria_figures, criterion_met
from scoring.engine import Scorecard, explain, ranking
from scoring.periods import parse_period
from scoring.rules import load_rules, rules_in_effect
from services.indicator_schemas import IndicatorCreate, ValueCreate, ValueVerify, VerifyDecision
from services.indicators import create_indicator, record_value, verify_value
from services.principals import Principal
from tests.procedure_factories import store_dossier
from vocabulary.indicators import Direction, IndicatorKind
from vocabulary.roles import Role

A, B, C, D, E = "24133", "24121", "24163", "24175", "22015"
# 10:00 in Vietnam on 2 April 2028: every value below is known by then.
NOW = datetime(2028, 4, 2, 3, 0, tzinfo=UTC)
MARCH = parse_period("2028-03")
OFFICE = Principal(token_id=1, name="Văn phòng", role=Role.STEERING_OFFICE, commune_code=None)
LEADER_C = Principal(token_id=2, name="Chủ tịch xã", role=Role.COMMUNE_LEADER, commune_code=C)
FIVE_WORKING_DAYS = "1.010038"  # Tách hộ


@pytest.fixture(scope="module")
def engine(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def session(scratch_database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_async_engine(scratch_database_url)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
    await engine.dispose()


def criterion(
    code: str, kind: str, milestones: list[dict[str, Any]], **more: Any
) -> IndicatorCreate:
    return IndicatorCreate.model_validate(
        {
            "code": code,
            "name": f"Tiêu chí {code}",
            "kind": kind,
            "scope": "commune",
            "group": CRITERIA_GROUP,
            "milestones": milestones,
            **more,
        }
    )


async def value(
    session: AsyncSession,
    code: str,
    unit: str | None,
    as_of: str,
    figure: float,
    by: Principal = OFFICE,
    supersedes: int | None = None,
) -> int:
    recorded = await record_value(
        session,
        by,
        code,
        ValueCreate(
            unit_code=unit, as_of=date.fromisoformat(as_of), value=figure, supersedes=supersedes
        ),
        NOW,
    )
    return recorded.id


def cards(engine: Engine, version: str) -> dict[str, Scorecard]:
    with Session(engine) as s:
        return {c.commune_code: c for c in ranking(s, load_rules(version), MARCH, NOW)}


def criteria_share(card: Scorecard) -> tuple[Any, ...]:
    scored = next(i for i in card.indicators if i.key == "criteria_met")
    return (scored.count, scored.of, scored.value, scored.colour, scored.max_points, scored.points)


async def test_v6_scores_the_criteria_met_and_v5_stays_as_it_was(
    session: AsyncSession, engine: Engine
) -> None:
    await create_indicator(
        session, criterion("TCX-01", "yes_no", [{"date": "2028-12-31", "target": 1}]), NOW
    )
    await create_indicator(
        session,
        criterion(
            "TCX-02",
            "percent",
            [{"date": "2028-06-30", "target": 60}, {"date": "2028-12-31", "target": 80}],
        ),
        NOW,
    )
    await create_indicator(
        session,
        criterion(
            "TCX-03", "percent", [{"date": "2028-12-31", "target": "5–10"}], direction="decrease"
        ),
        NOW,
    )
    await create_indicator(
        session,
        criterion("TCX-09", "yes_no", [{"date": "2028-12-31", "target": 1}], group="Nhóm khác"),
        NOW,
    )
    await create_indicator(
        session,
        criterion("TCX-00", "percent", [{"date": "2028-12-31", "target": 90}], scope="province"),
        NOW,
    )
    await value(session, "TCX-00", None, "2028-03-31", 10)
    await value(session, "TCX-09", A, "2028-03-31", 0)

    await value(session, "TCX-01", A, "2028-03-15", 1)
    await value(session, "TCX-02", A, "2028-03-20", 65)
    behind = await value(session, "TCX-03", A, "2028-03-25", 12)
    await value(session, "TCX-01", B, "2028-02-10", 0)
    await value(session, "TCX-01", B, "2028-03-10", 1)
    await value(session, "TCX-02", B, "2028-03-10", 70)
    await value(session, "TCX-02", B, "2028-04-01", 50)
    waiting = await value(session, "TCX-01", C, "2028-03-31", 1, by=LEADER_C)
    wrong = await value(session, "TCX-02", C, "2028-03-05", 55)
    await value(session, "TCX-02", C, "2028-03-05", 62, supersedes=wrong)
    await value(session, "TCX-03", C, "2028-03-31", 10.5)
    await value(session, "TCX-03", E, "2028-03-31", 4)
    store_dossier(engine, FIVE_WORKING_DAYS, A, datetime(2028, 3, 1, 2, 0, tzinfo=UTC))
    with Session(engine) as s, s.begin():
        s.execute(
            update(Dossier)
            .where(Dossier.commune_code == A)
            .values(
                status="result_ready",
                timeliness="on_time",
                result_at=datetime(2028, 3, 6, 2, 0, tzinfo=UTC),
            )
        )

    with Session(engine) as s:
        figures = criteria_figures(s, MARCH, NOW)
    assert len(figures) == 102
    assert {code: f for code, f in figures.items() if f["criteria"]} == {
        A: {"criteria": 3, "criteria_met": 2},
        B: {"criteria": 2, "criteria_met": 2},
        C: {"criteria": 2, "criteria_met": 1},
        E: {"criteria": 1, "criteria_met": 1},
    }
    assert figures[D] == {"criteria": 0, "criteria_met": 0}

    v6 = cards(engine, "v6")
    assert {code: (c.score, c.band, c.rank) for code, c in v6.items() if c.score is not None} == {
        B: (100.0, "excellent", 1),
        E: (100.0, "excellent", 1),
        A: (80.0, "good", 3),
        C: (50.0, "completed", 4),
    }
    assert (v6[D].score, v6[D].band, v6[D].rank) == (None, "not_rated", 5)
    assert criteria_share(v6[A]) == (2, 3, 0.6667, "red", 60.0, 40.0)
    dossiers = next(i for i in v6[A].indicators if i.key == "dossiers_in_time")
    assert (dossiers.max_points, dossiers.points) == (40.0, 40.0)
    assert criteria_share(v6[B]) == (2, 2, 1.0, "green", 100.0, 100.0)
    assert criteria_share(v6[C]) == (1, 2, 0.5, "red", 100.0, 50.0)
    assert criteria_share(v6[D]) == (0, 0, None, "none", 0.0, 0.0)

    # The point lost names the criterion and the value judged.
    with Session(engine) as s:
        explained = explain(s, load_rules("v6"), MARCH, NOW, v6[A])
    entry = next(e for e in explained.explanation if e["indicator"] == "criteria_met")
    assert (entry["source"], entry["points_lost"], entry["points_per_assignment"]) == (
        "criteria",
        20.0,
        20.0,
    )
    assert entry["assignments"] == [
        {
            "indicator_value_id": behind,
            "indicator_code": "TCX-03",
            "commune_code": A,
            "as_of": "2028-03-25",
            "value": 12.0,
            "target_low": 5.0,
            "target_high": 10.0,
        }
    ]

    # v5 scores March 2028 as it did: no criteria; A on its dossier, the others not rated.
    v5 = cards(engine, "v5")
    assert {code: (c.score, c.rank) for code, c in v5.items() if c.score is not None} == {
        A: (100.0, 1)
    }
    assert {c.band for code, c in v5.items() if code != A} == {"not_rated"}
    assert "criteria_met" not in {i.key for i in v5[A].indicators}
    # v6 follows v5: a period ending in 2027 keeps v5, one ending from 2028 on takes v6.
    assert rules_in_effect(date(2027, 12, 31)).version == "v5"
    assert rules_in_effect(MARCH.last_day).version == "v6"

    # The leader's 1 counts once the office accepts it.
    await verify_value(
        session, OFFICE, "TCX-01", waiting, ValueVerify(decision=VerifyDecision.ACCEPT), NOW
    )
    after = cards(engine, "v6")
    assert (after[C].score, after[C].rank) == (66.67, 4)
    assert criteria_share(after[C]) == (2, 3, 0.6667, "red", 100.0, 66.67)


@pytest.mark.parametrize(
    ("kind", "direction", "target", "figure", "met"),
    [
        (IndicatorKind.YES_NO, Direction.INCREASE, None, 1, True),
        (IndicatorKind.YES_NO, Direction.INCREASE, None, 0, False),
        (IndicatorKind.PERCENT, Direction.INCREASE, (60, 60), 60, True),
        (IndicatorKind.PERCENT, Direction.INCREASE, (60, 60), 59.9, False),
        (IndicatorKind.PERCENT, Direction.INCREASE, (51, 52), 51.5, True),
        (IndicatorKind.PERCENT, Direction.INCREASE, (51, 52), 53, True),
        (IndicatorKind.PERCENT, Direction.INCREASE, (51, 52), 50.9, False),
        (IndicatorKind.PERCENT, Direction.DECREASE, (5, 10), 10, True),
        (IndicatorKind.PERCENT, Direction.DECREASE, (5, 10), 4, True),
        (IndicatorKind.PERCENT, Direction.DECREASE, (5, 10), 10.5, False),
        (IndicatorKind.RANK, Direction.DECREASE, (20, 20), 21, False),
        (IndicatorKind.PERCENT, Direction.INCREASE, None, 100, False),
    ],
)
def test_what_meets_a_criterion(
    kind: IndicatorKind,
    direction: Direction,
    target: tuple[float, float] | None,
    figure: float,
    met: bool,
) -> None:
    milestone = Target(date(2028, 12, 31), *target) if target is not None else None
    assert criterion_met(kind, direction, milestone, figure) is met
