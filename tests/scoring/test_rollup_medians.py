"""The two medians of the roll-up are the lower middle value on either database: PostgreSQL
computes them with percentile_disc(0.5), SQLite with a window function, and both must give the
same exact figures. Assignment rows are stored directly for May 2039, a month no other test
uses, in the session's database (each backend in turn); every directive is issued at 08:00 on
1 May (UTC) and each assignment's span is counted from there. The completed ones carry a
report time only, so that each median reads the values listed for it.

- A: acknowledged after 26 h, 3 h, 5 h 0.123456 s and 48 h (an even count: the lower of the two
  middle values, 5 h 0.123456 s, rounded to 18000.1 s; the upper one would be 26 h, their mean
  15.5 h); completed with reports after 10 days, 2 days and 5 days 0.5 s (an odd count: the
  middle one, 432000.5 s), plus a completed one whose report time is missing, which has no value
  and counts for neither side.
- B: acknowledged after 1 h, 2 h, 2 h, 2 h and 7 h (odd, with ties: 2 h); completed after 4 h,
  4 h, 9 h and 9 h (even, ties on both sides: the lower, 4 h).
- Left out on both: a cancelled assignment (acknowledged after 1 s) and one whose original
  deadline falls in June (acknowledged after 1 s).
- C: nothing in May: no median."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.communes import communes_of_province
from db.models import Assignment, Directive, policy_to_json
from scoring.periods import parse_period
from scoring.rollup import medians, rollup, rollup_query
from vocabulary.directives import AssignmentStatus, DirectivePolicy, Timeliness

PERIOD = parse_period("2039-05")
ISSUED = datetime(2039, 5, 1, 8, tzinfo=UTC)
IN_MAY = datetime(2039, 5, 20, tzinfo=UTC)
IN_JUNE = datetime(2039, 6, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EXPECTED: dict[str, dict[str, float | None]] = {
    "A": {"median_acknowledgement_seconds": 18000.1, "median_completion_seconds": 432000.5},
    "B": {"median_acknowledgement_seconds": 7200.0, "median_completion_seconds": 14400.0},
    "C": {"median_acknowledgement_seconds": None, "median_completion_seconds": None},
}


def _codes() -> dict[str, str]:
    codes = sorted(c.code for c in communes_of_province())
    return {"A": codes[0], "B": codes[1], "C": codes[2]}


def _store(
    session: Session,
    commune: str,
    acknowledged: timedelta | None = None,
    reported: timedelta | None = None,
    status: AssignmentStatus = AssignmentStatus.ACKNOWLEDGED,
    deadline: datetime = IN_MAY,
    issued: datetime = ISSUED,
) -> None:
    directive = Directive(
        title="Báo cáo trung vị",
        body="Số liệu cố định cho phép tính trung vị.",
        status="active",
        issued_at=issued,
        issued_by="steering_office:test",
        deadline=deadline,
        communes=[commune],
        policy=policy_to_json(DirectivePolicy()),
        updated_at=issued,
    )
    session.add(directive)
    session.flush()
    completed = status is AssignmentStatus.COMPLETED
    session.add(
        Assignment(
            directive_id=directive.id,
            commune_code=commune,
            issued_at=issued,
            status=status.value,
            timeliness=(Timeliness.ON_TIME if completed else Timeliness.WITHIN_DEADLINE).value,
            deadline=deadline,
            original_deadline=deadline,
            acknowledged_at=issued + acknowledged if acknowledged is not None else None,
            reported_at=issued + reported if reported is not None else None,
            completed_at=issued + reported if reported is not None else None,
        )
    )


@pytest.fixture(scope="module")
def stored(engine: Engine) -> dict[str, str]:
    codes = _codes()
    a, b = codes["A"], codes["B"]
    with Session(engine) as session, session.begin():
        for span in (26 * HOUR, 3 * HOUR, 5 * HOUR + timedelta(microseconds=123456), 48 * HOUR):
            _store(session, a, acknowledged=span)
        for span in (10 * DAY, 2 * DAY, 5 * DAY + timedelta(seconds=0.5)):
            _store(session, a, None, span, AssignmentStatus.COMPLETED)
        _store(session, a, None, None, AssignmentStatus.COMPLETED)
        for span in (1 * HOUR, 2 * HOUR, 2 * HOUR, 2 * HOUR, 7 * HOUR):
            _store(session, b, acknowledged=span)
        for span in (4 * HOUR, 4 * HOUR, 9 * HOUR, 9 * HOUR):
            _store(session, b, None, span, AssignmentStatus.COMPLETED)
        for commune in (a, b):
            _store(session, commune, timedelta(seconds=1), status=AssignmentStatus.CANCELLED)
            _store(session, commune, timedelta(seconds=1), deadline=IN_JUNE)
    return codes


def test_the_ranking_roll_up_gives_the_lower_middle_value_exactly(
    engine: Engine, stored: dict[str, str]
) -> None:
    with Session(engine) as session:
        figures = rollup(session, PERIOD, IN_JUNE, with_medians=True)
    found = {
        name: {key: figures[code][key] for key in EXPECTED[name]} for name, code in stored.items()
    }
    assert found == EXPECTED
    # The counts beside them are the same rows': the missing report still counts as received.
    assert figures[stored["A"]]["received"] == 8
    assert figures[stored["B"]]["received"] == 9


def test_one_scorecard_reads_the_same_medians(engine: Engine, stored: dict[str, str]) -> None:
    with Session(engine) as session:
        found = {name: medians(session, PERIOD, code) for name, code in stored.items()}
    assert found == EXPECTED


EVERY_COMMUNE = parse_period("2046-07")


def test_every_commune_is_rolled_up_once_whatever_range_of_codes_it_falls_in(
    engine: Engine,
) -> None:
    """On PostgreSQL the roll-up with medians runs as one branch per range of commune codes
    (rollup.PARTS): each of the province's 102 communes, those at the ranges' edges included,
    has its one assignment counted once and its own median, on either database."""
    issued = datetime(2046, 7, 1, 8, tzinfo=UTC)
    codes = sorted(c.code for c in communes_of_province())
    deadline = datetime(2046, 7, 20, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        for i, code in enumerate(codes):
            # Each commune's own span: i hours and one second.
            span = i * HOUR + timedelta(seconds=1)
            _store(session, code, span, deadline=deadline, issued=issued)
    with Session(engine) as session:
        figures = rollup(session, EVERY_COMMUNE, issued + 30 * DAY, with_medians=True)
        query = rollup_query(
            EVERY_COMMUNE, issued + 30 * DAY, dialect=session.get_bind().dialect.name
        )
        listed = [row.commune_code for row in session.execute(query)]
    assert len(codes) == 102
    assert listed == codes
    assert sorted(figures) == codes
    assert [figures[code]["received"] for code in codes] == [1] * 102
    assert [figures[code]["median_acknowledgement_seconds"] for code in codes] == [
        i * 3600.0 + 1.0 for i in range(102)
    ]
