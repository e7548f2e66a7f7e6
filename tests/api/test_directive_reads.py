"""The reads of a directive and of its assignment list, as the API answers them under load: the
directive with its counts in one statement, the list's rows as tuples of the shown columns, and
the list's JSON written at once, byte for byte what AssignmentsPublic writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db import queries
from db.engine import make_async_engine
from db.models import Assignment, Directive
from services.schemas import (
    AssignmentPublic,
    AssignmentsPublic,
    assignment_fields,
    assignments_json,
)

MOMENT = datetime(2026, 3, 2, 8, 30, 15, 250000, tzinfo=UTC)
WHOLE_SECOND = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
COMMUNES = ["24121", "24133", "24175"]


def listed(commune_code: str, status: str, **changes: Any) -> queries.ListedAssignment:
    row = queries.ListedAssignment(
        directive_id=7,
        commune_code=commune_code,
        status=status,
        timeliness="within_deadline",
        deadline=WHOLE_SECOND,
        original_deadline=WHOLE_SECOND,
        acknowledge_by=None,
        acknowledged_at=None,
        reported_at=None,
        completed_at=None,
        escalation_level=0,
        revision=1,
        acknowledged_revision=0,
        extension_requested_until=None,
        report_summary=None,
        report_evidence=None,
        review_comment=None,
        updated_at=MOMENT,
    )
    return row._replace(**changes)


def test_the_lists_json_is_what_the_model_writes_byte_for_byte() -> None:
    rows = [
        (listed("24121", "notified", acknowledge_by=MOMENT), "Phường Tân Lập"),
        (
            listed(
                "24133",
                "reported",
                acknowledged_at=MOMENT,
                acknowledged_revision=1,
                reported_at=WHOLE_SECOND,
                report_summary='Đã xong "cả" hai việc',
                report_evidence=["https://example.vn/ă", "CV 12/UBND"],
                extension_requested_until=WHOLE_SECOND + timedelta(days=3),
            ),
            "Xã Hòa Phú",
        ),
        (
            listed("24175", "completed", revision=2, acknowledged_revision=1, escalation_level=2),
            "Xã Ea Kao",
        ),
        (listed("24178", "notified", revision=2, acknowledged_revision=1), "Xã Ea Tu"),
    ]
    fields = [assignment_fields(row, name) for row, name in rows]
    model = AssignmentsPublic(data=[AssignmentPublic(**f) for f in fields], count=9)

    assert assignments_json(fields, 9) == model.model_dump_json().encode()
    # Closed, or acknowledged at its revision: nothing to acknowledge; otherwise something.
    assert [f["needs_acknowledgement"] for f in fields] == [True, False, False, True]
    assert fields[0]["workflow_id"] == "directive-7/commune-24121"
    assert list(fields[0]) == list(AssignmentPublic.model_fields)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_async_engine(database_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def add_directive(engine: Engine, statuses: list[str]) -> int:
    """A directive to COMMUNES with an assignment per status given (in the communes' order)."""
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        directive = Directive(
            title=f"reads {uuid.uuid4().hex[:8]}",
            body="text",
            status="active",
            revision=1,
            issued_at=now,
            issued_by="office",
            deadline=now + timedelta(days=7),
            communes=COMMUNES,
            policy={"reminder_offsets_seconds": [], "escalation": []},
            updated_at=now,
        )
        session.add(directive)
        session.flush()
        for code, status in zip(COMMUNES, statuses, strict=False):
            session.add(
                Assignment(
                    directive_id=directive.id,
                    commune_code=code,
                    issued_at=now,
                    status=status,
                    timeliness="within_deadline",
                    deadline=now + timedelta(days=7),
                    original_deadline=now + timedelta(days=7),
                    updated_at=now,
                )
            )
        return directive.id


def statements_of(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(*args: Any) -> None:
        seen.append(args[2])

    return seen


async def test_a_directive_is_read_with_its_counts_in_one_statement(
    engine: Engine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    three = add_directive(engine, ["notified", "notified", "acknowledged"])
    none = add_directive(engine, [])
    async with sessions() as session:
        seen = statements_of(session.bind.sync_engine)  # type: ignore[union-attr]
        row, counts = await session.run_sync(queries.directive_with_counts, three) or (None, None)
        assert len(seen) == 1
        expected = await queries.assignment_counts(session, [three])
        assert counts == expected[three]
        assert counts["total"] == 3
        assert counts["status"]["notified"] == 2
        assert counts["status"]["acknowledged"] == 1
        assert row is not None and row.id == three and row.communes == COMMUNES

        _, commune_counts = await session.run_sync(
            queries.directive_with_counts, three, "24175"
        ) or (
            None,
            None,
        )
        assert commune_counts == (await queries.assignment_counts(session, [three], "24175"))[three]
        assert commune_counts["total"] == 1

        # A directive without assignments yet: its row, every count zero.
        found = await session.run_sync(queries.directive_with_counts, none)
        assert found is not None and found[0].id == none
        assert found[1] == queries.empty_counts()

        assert await session.run_sync(queries.directive_with_counts, 10**9) is None


async def test_the_list_reads_the_shown_columns_as_tuples(
    engine: Engine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    directive_id = add_directive(engine, ["notified", "acknowledged", "completed"])
    async with sessions() as session:
        rows, total = await session.run_sync(
            queries.list_assignments, directive_id, None, None, None, 50, 0
        )
        stored = {
            a.commune_code: a
            for a in await session.scalars(
                select(Assignment).where(Assignment.directive_id == directive_id)
            )
        }
        page, page_total = await session.run_sync(
            queries.list_assignments, directive_id, None, None, None, 2, 1
        )
    assert total == 3
    assert [row.commune_code for row, _ in rows] == COMMUNES
    for row, name in rows:
        assert isinstance(row, queries.ListedAssignment) and name
        assert row._asdict() == {f: getattr(stored[row.commune_code], f) for f in row._fields}
    # A page of the same statement: its offset and limit bound, the total counted.
    assert [row.commune_code for row, _ in page] == COMMUNES[1:]
    assert page_total == 3
