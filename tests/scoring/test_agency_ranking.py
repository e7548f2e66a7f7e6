"""The agencies ranked among themselves under their own rule set (agencies-v1), on assignment rows
stored directly, in a database of the module's own, for May 2028 (deadline 15 May, acknowledge
by 2 May). Two directives, D1 and D2, each to every agency below and to the commune 24133;
a third, D3, recalled from SNV.

- SNV: both completed on time, acknowledged in time; its D3, cancelled while overdue, counts
  for nobody → 100.00, excellent.
- STC: both completed on time; D1 returned once for rework, D2 acknowledged late →
  completed 60 + acknowledged 10 × 1/2 + not escalated 15 + no rework 15 × 1/2 = 87.50, good.
- STP and SXD alike: D1 on time; D2 completed late, escalated once → 60 × (1 + 0.5)/2 + 10 +
  15 × 1/2 + 15 = 77.50 each, good; they share rank 3.
- SYT: D1 overdue and not completed (acknowledged in time, not escalated), D2 on time →
  60 × 1/2 + 10 + 15 + 15 = 70.00, which reaches "completed" but half of its judged tasks are
  overdue (more than the fifth it allows): band not_completed, rank 5.
- SCT: D1 overdue, never acknowledged, escalated twice; D2 completed late, escalated once →
  60 × 0.5/2 + 10 × 1/2 + 0 + 15 = 35.00, not_completed, rank 6.
- SKHCN, made inactive, completed D1 on time: not in the ranking.
- Every other active agency: nothing due, not rated, rank 7.
- The commune 24133 completed D1 on time (and is ranked among the communes under v6, 100.00),
  but appears in no agency ranking; no agency appears among the communes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, make_url, select, update
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.communes import communes_of_province
from db.engine import make_engine
from db.models import Assignment, AssignmentEventRow, Unit
from scoring.engine import Scorecard, explain, ranking
from scoring.periods import parse_period
from scoring.ranked import Ranked
from scoring.rules import RulesError, known_versions, load_rules, rules_in_effect
from tests.conftest import ApiClient, api_app, fresh_database
from tests.factories import store_directive
from vocabulary.directives import AssignmentStatus, DirectivePolicy, Timeliness
from vocabulary.events import AssignmentEventKind

MAY = parse_period("2028-05")
ISSUED = datetime(2028, 5, 1, 1, 0, tzinfo=UTC)
ACK_BY = datetime(2028, 5, 2, 1, 0, tzinfo=UTC)
DEADLINE = datetime(2028, 5, 15, 3, 0, tzinfo=UTC)
# When the figures are read: they come from stored state only, never from this moment.
AS_OF = datetime(2028, 6, 2, 3, 0, tzinfo=UTC)
IN_TIME, LATE_ACK = ACK_BY - timedelta(hours=12), ACK_BY + timedelta(days=1)
COMMUNE = "24133"
INACTIVE = "SKHCN"
SCORED = ["SNV", "STC", "STP", "SXD", "SYT", "SCT"]
POLICY = DirectivePolicy(reminder_offsets_seconds=[86400], escalation=[])
ON_TIME, LATE, OVERDUE = Timeliness.ON_TIME, Timeliness.LATE, Timeliness.OVERDUE
DONE, NOTIFIED, CANCELLED = (
    AssignmentStatus.COMPLETED,
    AssignmentStatus.NOTIFIED,
    AssignmentStatus.CANCELLED,
)
# (directive, code) → status, timeliness, acknowledged at, escalation level, returns
History = dict[tuple[str, str], tuple[AssignmentStatus, Timeliness, datetime | None, int, int]]
HISTORY: History = {
    ("D1", "SNV"): (DONE, ON_TIME, IN_TIME, 0, 0),
    ("D2", "SNV"): (DONE, ON_TIME, IN_TIME, 0, 0),
    ("D3", "SNV"): (CANCELLED, OVERDUE, None, 1, 0),
    ("D1", "STC"): (DONE, ON_TIME, IN_TIME, 0, 1),
    ("D2", "STC"): (DONE, ON_TIME, LATE_ACK, 0, 0),
    ("D1", "STP"): (DONE, ON_TIME, IN_TIME, 0, 0),
    ("D2", "STP"): (DONE, LATE, IN_TIME, 1, 0),
    ("D1", "SXD"): (DONE, ON_TIME, IN_TIME, 0, 0),
    ("D2", "SXD"): (DONE, LATE, IN_TIME, 1, 0),
    ("D1", "SYT"): (NOTIFIED, OVERDUE, IN_TIME, 0, 0),
    ("D2", "SYT"): (DONE, ON_TIME, IN_TIME, 0, 0),
    ("D1", "SCT"): (NOTIFIED, OVERDUE, None, 2, 0),
    ("D2", "SCT"): (DONE, LATE, IN_TIME, 1, 0),
    ("D1", INACTIVE): (DONE, ON_TIME, IN_TIME, 0, 0),
    ("D1", COMMUNE): (DONE, ON_TIME, IN_TIME, 0, 0),
}
# code → score, band, rank, as the module's docstring works them out.
EXPECTED = {
    "SNV": (100.0, "excellent", 1),
    "STC": (87.5, "good", 2),
    "STP": (77.5, "good", 3),
    "SXD": (77.5, "good", 3),
    "SYT": (70.0, "not_completed", 5),
    "SCT": (35.0, "not_completed", 6),
}


Ids = dict[tuple[str, str], dict[str, int | str]]


def _store(engine: Engine) -> Ids:
    """The history above as rows, as the workflows would have left them; → each assignment as
    an explanation names it."""
    directives = {
        name: store_directive(
            engine,
            sorted({code for (d, code) in HISTORY if d == name}),
            ISSUED,
            POLICY,
            deadline=DEADLINE,
            title=f"Nhiệm vụ {name} của kế hoạch",
        ).directive_id
        for name in ("D1", "D2", "D3")
    }
    with Session(engine) as session, session.begin():
        rows = {}
        for (name, code), (status, timeliness, acked, level, returns) in HISTORY.items():
            row = Assignment(
                directive_id=directives[name],
                commune_code=code,
                issued_at=ISSUED,
                status=status.value,
                timeliness=timeliness.value,
                deadline=DEADLINE,
                original_deadline=DEADLINE,
                acknowledge_by=ACK_BY,
                acknowledged_at=acked,
                reported_at=DEADLINE - timedelta(days=1) if status is DONE else None,
                completed_at=DEADLINE if status is DONE else None,
                escalation_level=level,
                # As the write that records each return keeps it.
                returns=returns,
            )
            session.add(row)
            rows[(name, code)] = row
            for seq in range(1, returns + 1):
                session.add(
                    AssignmentEventRow(
                        directive_id=directives[name],
                        commune_code=code,
                        seq=seq,
                        kind=AssignmentEventKind.RETURNED.value,
                        at=DEADLINE - timedelta(days=2),
                    )
                )
        session.execute(update(Unit).where(Unit.code == INACTIVE).values(active=False))
        session.flush()
        return {
            key: {
                "assignment_id": row.id,
                "directive_id": row.directive_id,
                "commune_code": row.commune_code,
            }
            for key, row in rows.items()
        }


@pytest.fixture(scope="module")
def agencies_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the module's own on the session's backend: the module makes an agency
    inactive, which others must not see."""
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path_factory.mktemp("agencies")) as url:
        yield url


@pytest.fixture(scope="module")
def stored(agencies_url: str) -> Iterator[tuple[Engine, Ids]]:
    engine = make_engine(agencies_url)
    ids = _store(engine)
    yield engine, ids
    engine.dispose()


def _cards(engine: Engine, version: str, ranks: Ranked) -> list[Scorecard]:
    with Session(engine) as session:
        return ranking(session, load_rules(version, ranks), MAY, AS_OF)


def _active_agencies(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(Unit.code).where(Unit.active.is_(True))))


def test_the_agencies_rule_set_is_a_line_of_its_own() -> None:
    assert known_versions() == ["v1", "v2", "v3", "v4", "v5", "v6"]
    assert known_versions(Ranked.AGENCIES) == ["agencies-v1"]
    assert rules_in_effect(MAY.last_day).version == "v6"
    agencies = rules_in_effect(MAY.last_day, Ranked.AGENCIES)
    assert (agencies.version, agencies.ranks) == ("agencies-v1", Ranked.AGENCIES)
    assert [(i.key, i.source, i.weight) for i in agencies.indicators] == [
        ("completed", "assignments", 60),
        ("acknowledged_in_time", "assignments", 10),
        ("not_escalated", "assignments", 15),
        ("no_rework", "assignments", 15),
    ]
    with pytest.raises(RulesError, match="for the communes"):
        load_rules("agencies-v1")
    with pytest.raises(RulesError, match="for the agencies"):
        load_rules("v6", Ranked.AGENCIES)


def test_agencies_are_scored_and_ranked_among_themselves(
    stored: tuple[Engine, Ids],
) -> None:
    engine, _ = stored
    cards = _cards(engine, "agencies-v1", Ranked.AGENCIES)
    by_code = {c.commune_code: c for c in cards}
    active = _active_agencies(engine)
    assert INACTIVE not in active
    assert set(by_code) == active
    assert not set(by_code) & {c.code for c in communes_of_province()}
    assert {code: (c.score, c.band, c.rank) for code, c in by_code.items() if code in SCORED} == (
        EXPECTED
    )
    # Best first; a tie listed by code; then every agency with nothing due, not rated.
    assert [c.commune_code for c in cards[: len(SCORED)]] == SCORED
    rest = cards[len(SCORED) :]
    assert rest and {(c.score, c.band, c.rank) for c in rest} == {(None, "not_rated", 7)}
    assert {c.rules_version for c in cards} == {"agencies-v1"}
    # SYT's score reaches "completed"; its overdue task lowers the band.
    assert by_code["SYT"].band_limited_from == "completed"
    # SCT's figures: the cancelled task and the commune's are nobody's but their own.
    sct = by_code["SCT"].figures
    assert (sct["received"], sct["decided"], sct["overdue_now"], sct["escalated"]) == (2, 2, 1, 2)
    assert by_code["SNV"].figures["received"] == 2


def test_an_agencys_points_lost_name_its_own_assignments(
    stored: tuple[Engine, Ids],
) -> None:
    engine, ids = stored
    rules = load_rules("agencies-v1", Ranked.AGENCIES)
    with Session(engine) as session:
        card = next(c for c in ranking(session, rules, MAY, AS_OF) if c.commune_code == "STC")
        explained = explain(session, rules, MAY, AS_OF, card)
    lost = {e["indicator"]: (e["points_lost"], e["assignments"]) for e in explained.explanation}
    assert lost == {
        "acknowledged_in_time": (5.0, [ids[("D2", "STC")]]),
        "no_rework": (7.5, [ids[("D1", "STC")]]),
    }


def test_no_agency_among_the_communes(
    stored: tuple[Engine, Ids],
) -> None:
    engine, _ = stored
    cards = _cards(engine, "v6", Ranked.COMMUNES)
    communes = {c.code for c in communes_of_province()}
    assert {c.commune_code for c in cards} == communes
    assert len(cards) == 102
    first, *rest = cards
    assert (first.commune_code, first.score, first.band, first.rank) == (
        COMMUNE,
        100.0,
        "excellent",
        1,
    )
    assert {(c.score, c.rank) for c in rest} == {(None, 2)}
    assert first.figures["received"] == 1


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    agencies_url: str,
    stored: tuple[Engine, Ids],
    executor: ThreadPoolExecutor,
) -> AsyncIterator[ApiClient]:
    task_queue = f"axis-agencies-{uuid.uuid4().hex[:8]}"
    async with api_app(local_env, agencies_url, stored[0], task_queue, executor) as (client, _):
        yield client


async def test_every_role_reads_the_agencies_ranking(
    api: ApiClient, stored: tuple[Engine, Ids]
) -> None:
    tokens = {
        "steering_office": None,
        "reader": await api.token("reader"),
        "official_in_charge": await api.token("official_in_charge"),
        "commune_leader": await api.token("commune_leader", COMMUNE),
        "agency_head": await api.token("agency_head", "SCT"),
    }
    answers = {}
    for role, token in tokens.items():
        answer = await api.request("GET", "/api/v1/scores/agencies?period=2028-05", token)
        assert answer.status_code == 200, (role, answer.text)
        answers[role] = answer.json()
    body = answers["steering_office"]
    assert all(other == body for other in answers.values())
    assert (body["period"], body["rules_version"]) == ("2028-05", "agencies-v1")
    assert body["count"] == len(_active_agencies(stored[0]))
    rows = {r["commune_code"]: r for r in body["data"]}
    rated = [r for r in body["data"] if r["score"] is not None]
    assert {r["commune_code"]: (r["score"], r["band"], r["rank"]) for r in rated} == EXPECTED
    assert rows["STC"]["colours"] == {
        "completed": "green",
        "acknowledged_in_time": "red",
        "not_escalated": "green",
        "no_rework": "red",
    }
    assert COMMUNE not in rows and INACTIVE not in rows

    communes = (await api.request("GET", "/api/v1/scores?period=2028-05")).json()
    assert communes["count"] == 102
    assert not {r["commune_code"] for r in communes["data"]} & set(rows)


async def test_the_agencies_ranking_refuses_what_it_cannot_read(api: ApiClient) -> None:
    refused = {
        "/api/v1/scores/agencies?period=2028-13": "2028-13",
        "/api/v1/scores/agencies?period=2028-05&rules=v6": "no rule set 'v6' for the agencies",
        "/api/v1/scores?period=2028-05&rules=agencies-v1": (
            "no rule set 'agencies-v1' for the communes"
        ),
    }
    for path, message in refused.items():
        answer = await api.request("GET", path)
        assert answer.status_code == 422, (path, answer.text)
        assert message in answer.json()["detail"], (path, answer.text)
    unsigned = await api.http.get("/api/v1/scores/agencies?period=2028-05")
    assert unsigned.status_code == 401
