"""What the tests that issue plans' tasks on a database of their own share: directive ids of
that database's own. Every database of the suite meets the one Temporal server, where a
directive's workflow is `directive-{id}`: a fresh database would number its directives from 1
and join the workflows another database's directive 1 started."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import (
    Directive,
    Plan,
    PlanTask,
    PlanTaskContribution,
    PlanTaskPartner,
    PlanTaskPeriod,
    PlanTaskUnit,
    policy_to_json,
)
from vocabulary.directives import DirectivePolicy, DirectiveStatus

# Every table of plans, children first: what a test empties to count its own.
PLAN_TABLES = (
    PlanTaskContribution,
    PlanTaskPeriod,
    PlanTaskPartner,
    PlanTaskUnit,
    PlanTask,
    Plan,
)


def directive_ids_of_its_own(url: str) -> int:
    """Move the database's next directive id far from any other database's (a random base
    between 10^8 and 10^9; the column is a 32-bit integer on PostgreSQL). Returns the base."""
    base = random.randrange(100_000, 1_000_000) * 1000
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            if engine.dialect.name == "postgresql":
                session.execute(
                    text("SELECT setval(pg_get_serial_sequence('directives', 'id'), :base)"),
                    {"base": base},
                )
            else:
                # SQLite gives a new row the largest id plus one: a recalled placeholder holds it.
                now = datetime.now(UTC)
                session.add(
                    Directive(
                        id=base,
                        title="(ids of this database's own)",
                        body="",
                        status=DirectiveStatus.RECALLED.value,
                        revision=1,
                        issued_at=now,
                        issued_by="tests",
                        communes=[],
                        policy=policy_to_json(DirectivePolicy()),
                        updated_at=now,
                    )
                )
    finally:
        engine.dispose()
    return base
