"""The roll-up reads the timeline's figures (returns, extension requests, granted extensions)
from counts the assignment's row keeps: the write that records such an event adds one, once,
however often and in whatever order the writes come, and migration 0018 counts the events
stored before it. Either way the counts are the timeline's, and the roll-up's figures are the
ones grouping the timeline gave. Assignments are due in March 2043, a month no other test uses.

One commune's history: acknowledged, reported, returned, reported, returned again, an
extension asked for and granted, reported, completed on time: two returns of one assignment
(returned for rework: 1; returns: 2), one extension asked and granted."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, func, make_url, select, text
from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from activities.records import RecordActivities
from db.engine import make_engine
from db.migrate import alembic_config
from db.models import Assignment, AssignmentEventRow
from scoring.periods import parse_period
from scoring.rollup import rollup
from tests.conftest import fresh_database
from tests.factories import store_directive
from vocabulary.directives import AssignmentState, AssignmentStatus, DirectivePolicy, Timeliness
from vocabulary.events import AssignmentEventKind as Kind
from workflows.types import AssignmentEvent, RecordAssignmentInput

PERIOD = parse_period("2043-03")
ISSUED_AT = datetime(2043, 3, 2, 2, tzinfo=UTC)
DEADLINE = datetime(2043, 3, 20, 10, tzinfo=UTC)
AS_OF = datetime(2043, 4, 1, tzinfo=UTC)
POLICY = DirectivePolicy(acknowledge_within_seconds=86400)
HISTORY = [
    (Kind.ACKNOWLEDGED, AssignmentStatus.ACKNOWLEDGED),
    (Kind.REPORTED, AssignmentStatus.REPORTED),
    (Kind.RETURNED, AssignmentStatus.RETURNED),
    (Kind.REPORTED, AssignmentStatus.REPORTED),
    (Kind.RETURNED, AssignmentStatus.RETURNED),
    (Kind.EXTENSION_REQUESTED, AssignmentStatus.RETURNED),
    (Kind.EXTENSION_GRANTED, AssignmentStatus.RETURNED),
    (Kind.REPORTED, AssignmentStatus.REPORTED),
    (Kind.ACCEPTED, AssignmentStatus.COMPLETED),
]
TIMELINE_FIGURES = {
    "received": 1,
    "judged": 1,
    "returned_for_rework": 1,
    "returns": 2,
    "extension_asked": 1,
    "extension_requests": 1,
    "extension_granted": 1,
    "extensions_granted": 1,
}
ROW_COUNTS = {"returns": 2, "extension_requests": 1, "extensions_granted": 1}


def _writes(directive_id: int, commune: str) -> list[RecordAssignmentInput]:
    state = AssignmentState(
        directive_id=directive_id,
        commune_code=commune,
        status=AssignmentStatus.NOTIFIED,
        timeliness=Timeliness.WITHIN_DEADLINE,
        deadline=DEADLINE,
        original_deadline=DEADLINE,
    )
    writes = []
    for seq, (kind, status) in enumerate(HISTORY, start=1):
        at = ISSUED_AT + timedelta(hours=seq)
        state = dataclasses.replace(state, status=status, seq=seq)
        if kind is Kind.ACKNOWLEDGED:
            state = dataclasses.replace(state, acknowledged_at=at, acknowledged_revision=1)
        if status is AssignmentStatus.COMPLETED:
            state = dataclasses.replace(state, completed_at=at, timeliness=Timeliness.ON_TIME)
        writes.append(
            RecordAssignmentInput(
                state=state, event=AssignmentEvent(kind=kind.value, at=at, actor="test")
            )
        )
    return writes


def _row_counts(engine: Engine, directive_id: int, commune: str) -> dict[str, int]:
    with Session(engine) as session:
        row = session.execute(
            select(
                Assignment.returns, Assignment.extension_requests, Assignment.extensions_granted
            ).where(Assignment.directive_id == directive_id, Assignment.commune_code == commune)
        ).one()
    return dict(zip(ROW_COUNTS, row, strict=True))


def _timeline_counts(engine: Engine, directive_id: int, commune: str) -> dict[str, int]:
    with Session(engine) as session:
        kinds = Counter(
            dict(
                session.execute(
                    select(AssignmentEventRow.kind, func.count())
                    .where(
                        AssignmentEventRow.directive_id == directive_id,
                        AssignmentEventRow.commune_code == commune,
                    )
                    .group_by(AssignmentEventRow.kind)
                ).all()
            )
        )
    return {
        "returns": kinds[Kind.RETURNED.value],
        "extension_requests": kinds[Kind.EXTENSION_REQUESTED.value],
        "extensions_granted": kinds[Kind.EXTENSION_GRANTED.value],
    }


def _figures(engine: Engine, commune: str) -> dict[str, Any]:
    with Session(engine) as session:
        figures = rollup(session, PERIOD, AS_OF, with_medians=True)[commune]
    return {name: figures[name] for name in TIMELINE_FIGURES}


def test_every_event_is_counted_once_however_often_and_in_whatever_order_it_is_written(
    engine: Engine,
) -> None:
    commune = "24133"
    request = store_directive(engine, [commune], ISSUED_AT, POLICY, deadline=DEADLINE)
    records = RecordActivities(engine)
    ActivityEnvironment().run(records.plan_directive, request)
    writes = _writes(request.directive_id, commune)
    # Every write twice, the second pass newest first: what a crashed worker and a retry do.
    for write in writes + list(reversed(writes)):
        ActivityEnvironment().run(records.record_assignment, write)

    assert _row_counts(engine, request.directive_id, commune) == ROW_COUNTS
    assert _timeline_counts(engine, request.directive_id, commune) == ROW_COUNTS
    assert _figures(engine, commune) == TIMELINE_FIGURES


def test_the_migration_counts_the_events_stored_before_it(
    database_url: str, tmp_path: Path
) -> None:
    """Migration 0018 on a database holding the history above (stored at revision 0017,
    written as the timeline rows it was then), and an assignment with no such event; down
    to 0017 and up again, the counts are the same."""
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path) as url:
        command.downgrade(alembic_config(url), "0017")
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                directive_id = connection.execute(
                    text(
                        "INSERT INTO directives (title, body, status, revision, "
                        "content_revision, issued_at, issued_by, deadline, communes, policy, "
                        "updated_at) VALUES ('t', 'b', 'active', 1, 1, :issued, 'test', "
                        ":deadline, '[]', '{}', :issued) RETURNING id"
                    ),
                    {"issued": ISSUED_AT, "deadline": DEADLINE},
                ).scalar_one()
                for commune in ("24133", "24175"):
                    connection.execute(
                        text(
                            "INSERT INTO assignments (directive_id, commune_code, status, "
                            "timeliness, deadline, original_deadline, acknowledge_by, "
                            "acknowledged_at, revision, acknowledged_revision, "
                            "escalation_level, seq, updated_at) VALUES (:directive, :commune, "
                            "'completed', 'on_time', :deadline, :deadline, :ack_by, :acked, 1, "
                            "1, 0, 9, :issued)"
                        ),
                        {
                            "directive": directive_id,
                            "commune": commune,
                            "deadline": DEADLINE,
                            "ack_by": ISSUED_AT + timedelta(days=1),
                            "acked": ISSUED_AT + timedelta(hours=1),
                            "issued": ISSUED_AT,
                        },
                    )
                connection.execute(
                    text(
                        "INSERT INTO assignment_events (directive_id, commune_code, seq, kind, "
                        "at, actor, detail) VALUES (:directive, :commune, :seq, :kind, :at, "
                        "'test', '{}')"
                    ),
                    [
                        {
                            "directive": directive_id,
                            "commune": commune,
                            "seq": seq,
                            "kind": kind.value,
                            "at": ISSUED_AT + timedelta(hours=seq),
                        }
                        for commune, history in (
                            ("24133", HISTORY),
                            ("24175", [(Kind.ACKNOWLEDGED, None), (Kind.ACCEPTED, None)]),
                        )
                        for seq, (kind, _) in enumerate(history, start=1)
                    ],
                )
            for _ in range(2):
                command.upgrade(alembic_config(url), "head")
                assert _row_counts(engine, directive_id, "24133") == ROW_COUNTS
                assert _row_counts(engine, directive_id, "24175") == dict.fromkeys(ROW_COUNTS, 0)
                assert _figures(engine, "24133") == TIMELINE_FIGURES
                assert _figures(engine, "24175") == {
                    **dict.fromkeys(TIMELINE_FIGURES, 0),
                    "received": 1,
                    "judged": 1,
                }
                command.downgrade(alembic_config(url), "0017")
        finally:
            engine.dispose()
