"""The roll-up's medians measure from the directive's issue as each assignment's row keeps it:
the plan records it with every assignment, migration 0019 copies it onto the rows stored
before it, and the roll-up reads it from the assignments alone, with no join to the
directives (the join took half of the roll-up with medians on a million assignments).
Assignments are due in April 2044, a month no other test uses.

Two directives to one commune, issued a day apart, acknowledged 1 h and 3 h after their own
issue: the lower median of 3,600 s and 10,800 s is 3,600 s. Measured from one issue for both,
it would be 3,600 s and 90,000 s (or −82,800 s and 10,800 s), never that."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, make_url, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from activities.records import RecordActivities
from db.engine import make_engine
from db.migrate import alembic_config
from db.models import Assignment
from scoring.periods import parse_period
from scoring.rollup import medians, rollup, rollup_query
from tests.conftest import fresh_database
from tests.factories import store_directive
from vocabulary.directives import DirectivePolicy

PERIOD = parse_period("2044-04")
FIRST_ISSUE = datetime(2044, 4, 1, 2, tzinfo=UTC)
SECOND_ISSUE = FIRST_ISSUE + timedelta(days=1)
DEADLINE = datetime(2044, 4, 20, 10, tzinfo=UTC)
AS_OF = datetime(2044, 5, 1, tzinfo=UTC)
# Each directive's issue and how long after it the commune acknowledged.
ACKNOWLEDGED_AFTER = {FIRST_ISSUE: timedelta(hours=1), SECOND_ISSUE: timedelta(hours=3)}
MEDIAN = 3600.0


def test_the_plan_records_the_directives_issue_with_every_assignment(engine: Engine) -> None:
    communes = ["24133", "24175", "24190"]
    request = store_directive(engine, communes, SECOND_ISSUE, DirectivePolicy(), deadline=DEADLINE)
    ActivityEnvironment().run(RecordActivities(engine).plan_directive, request)
    with Session(engine) as session:
        issued = session.execute(
            select(Assignment.commune_code, Assignment.issued_at)
            .where(Assignment.directive_id == request.directive_id)
            .order_by(Assignment.commune_code)
        ).all()
    assert [tuple(row) for row in issued] == [(code, SECOND_ISSUE) for code in communes]


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"]
)
def test_the_roll_up_reads_the_issue_from_the_assignments_alone(dialect: Dialect) -> None:
    statement = rollup_query(PERIOD, AS_OF, with_medians=True, dialect=dialect.name)
    sql = str(statement.compile(dialect=dialect))
    assert "assignments.issued_at" in sql
    assert "directives" not in sql


def _store_at_0018(engine: Engine, commune: str) -> None:
    """Two directives and their assignments as revision 0018 stored them (no issue on the row)."""
    with engine.begin() as connection:
        for issued, after in ACKNOWLEDGED_AFTER.items():
            directive_id = connection.execute(
                text(
                    "INSERT INTO directives (title, body, status, revision, content_revision, "
                    "issued_at, issued_by, deadline, communes, policy, updated_at) VALUES "
                    "('t', 'b', 'active', 1, 1, :issued, 'test', :deadline, '[]', '{}', "
                    ":issued) RETURNING id"
                ),
                {"issued": issued, "deadline": DEADLINE},
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO assignments (directive_id, commune_code, status, timeliness, "
                    "deadline, original_deadline, acknowledge_by, acknowledged_at, revision, "
                    "acknowledged_revision, escalation_level, seq, updated_at) VALUES "
                    "(:directive, :commune, 'acknowledged', 'within_deadline', :deadline, "
                    ":deadline, :ack_by, :acked, 1, 1, 0, 1, :issued)"
                ),
                {
                    "directive": directive_id,
                    "commune": commune,
                    "deadline": DEADLINE,
                    "ack_by": issued + timedelta(days=1),
                    "acked": issued + after,
                    "issued": issued,
                },
            )


def _issues(engine: Engine, commune: str) -> list[datetime]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Assignment.issued_at)
                .where(Assignment.commune_code == commune)
                .order_by(Assignment.issued_at)
            )
        )


def test_the_migration_copies_each_directives_issue_onto_its_assignments(
    database_url: str, tmp_path: Path
) -> None:
    """Migration 0019 on a database holding the two directives above (stored at revision
    0018); down to 0018 and up again, the rows and the median are the same."""
    commune = "24133"
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path) as url:
        command.downgrade(alembic_config(url), "0018")
        engine = make_engine(url)
        try:
            _store_at_0018(engine, commune)
            for _ in range(2):
                command.upgrade(alembic_config(url), "head")
                assert _issues(engine, commune) == [FIRST_ISSUE, SECOND_ISSUE]
                with Session(engine) as session:
                    figures = rollup(session, PERIOD, AS_OF, with_medians=True)[commune]
                    one = medians(session, PERIOD, commune)
                assert figures["median_acknowledgement_seconds"] == MEDIAN
                assert one["median_acknowledgement_seconds"] == MEDIAN
                command.downgrade(alembic_config(url), "0018")
        finally:
            engine.dispose()
