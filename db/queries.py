"""Reads of the read model for the API: one SQL statement per answer, aggregation in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import (
    Assignment,
    AssignmentEventRow,
    Delivery,
    Directive,
    Notification,
)
from db.recipients import recipient_names
from vocabulary.directives import AssignmentStatus, Timeliness

CommuneScope = str | frozenset[str] | None
# The (code, name) of every commune and agency, built once: building it again for every list
# (and its columns) was a tenth of a directive's list's own time.
RECIPIENT_NAMES = recipient_names()


def in_communes(column: Any, communes: CommuneScope) -> list[Any]:
    """The filter for one commune, a set of them (an official's), or none (the province)."""
    if communes is None:
        return []
    if isinstance(communes, str):
        return [column == communes]
    return [column.in_(sorted(communes))]


def empty_counts() -> dict[str, Any]:
    return {
        "total": 0,
        "status": {s.value: 0 for s in AssignmentStatus},
        "timeliness": {t.value: 0 for t in Timeliness},
    }


def _count(counts: dict[str, Any], status: str, timeliness: str, n: int) -> None:
    counts["total"] += n
    counts["status"][status] = counts["status"].get(status, 0) + n
    counts["timeliness"][timeliness] = counts["timeliness"].get(timeliness, 0) + n


async def assignment_counts(
    session: AsyncSession, directive_ids: Sequence[int], commune_code: str | None = None
) -> dict[int, dict[str, Any]]:
    """Assignments of each directive by status and by timeliness, in one grouped query."""
    counts = {d: empty_counts() for d in directive_ids}
    if not directive_ids:
        return counts
    query = (
        select(
            Assignment.directive_id,
            Assignment.status,
            Assignment.timeliness,
            func.count(),
        )
        .where(Assignment.directive_id.in_(directive_ids))
        .group_by(Assignment.directive_id, Assignment.status, Assignment.timeliness)
    )
    if commune_code is not None:
        query = query.where(Assignment.commune_code == commune_code)
    for directive_id, status, timeliness, n in await session.execute(query):
        _count(counts[directive_id], status, timeliness, n)
    return counts


# What a directive's answer shows of its row (DirectivePublic's fields, and the communes it is
# addressed to), read by name like the model's attributes.
DIRECTIVE_SHOWN = (
    Directive.id,
    Directive.title,
    Directive.body,
    Directive.status,
    Directive.revision,
    Directive.issued_at,
    Directive.issued_by,
    Directive.deadline,
    Directive.due_in_working_days,
    Directive.acknowledge_by,
    Directive.communes,
    Directive.policy,
)


def _directive_with_counts(commune_code: bool) -> Select[Any]:
    joined = Assignment.directive_id == Directive.id
    if commune_code:
        joined = and_(joined, Assignment.commune_code == bindparam("commune_code"))
    return (
        select(
            *DIRECTIVE_SHOWN,
            Assignment.status.label("assignment_status"),
            Assignment.timeliness,
            func.count(Assignment.id).label("n"),
        )
        .outerjoin(Assignment, joined)
        .where(Directive.id == bindparam("directive_id"))
        # The directive's columns depend on its id (PostgreSQL accepts them ungrouped).
        .group_by(Directive.id, Assignment.status, Assignment.timeliness)
    )


# Built once, their parameters bound at each read: building the statement again for every
# read (and its cache key) cost as much as running it.
DIRECTIVE_WITH_COUNTS = _directive_with_counts(commune_code=False)
DIRECTIVE_WITH_COMMUNE_COUNTS = _directive_with_counts(commune_code=True)


def directive_with_counts(
    session: Session, directive_id: int, commune_code: str | None = None
) -> tuple[Row[Any], dict[str, Any]] | None:
    """One directive's shown columns and its assignments' counts (as `assignment_counts`), in
    one grouped query: a row per status and timeliness, each repeating the directive's columns.
    None when there is no such directive. Two statements (the directive, then its counts) cost
    a read of a directive a third more of the API's time under 32 concurrent reads."""
    if commune_code is None:
        result = session.execute(DIRECTIVE_WITH_COUNTS, {"directive_id": directive_id})
    else:
        result = session.execute(
            DIRECTIVE_WITH_COMMUNE_COUNTS,
            {"directive_id": directive_id, "commune_code": commune_code},
        )
    rows = result.all()
    if not rows:
        return None
    counts = empty_counts()
    for row in rows:
        if row.n:
            _count(counts, row.assignment_status, row.timeliness, row.n)
    return rows[0], counts


def directives_query(commune_code: str | None, status: str | None) -> Select[Directive]:
    query = select(Directive)
    if status is not None:
        query = query.where(Directive.status == status)
    if commune_code is not None:
        query = query.where(
            select(Assignment.id)
            .where(Assignment.directive_id == Directive.id, Assignment.commune_code == commune_code)
            .exists()
        )
    return query


async def list_directives(
    session: AsyncSession, commune_code: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[Directive], int]:
    query = directives_query(commune_code, status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Directive.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def _assignments_query() -> Select[Assignment, str]:
    names = RECIPIENT_NAMES
    return select(Assignment, names.c.name).join(names, names.c.code == Assignment.commune_code)


class ListedAssignment(NamedTuple):
    """What a list of assignments shows of each row (AssignmentPublic's columns), not the row's
    bookkeeping (id, seq, the timeline's counts); read by name like the model's attributes, at
    a tuple's cost: a database row's attributes, read by name, took a directive's list as long
    as building an AssignmentPublic per row had."""

    directive_id: int
    commune_code: str
    status: str
    timeliness: str
    deadline: datetime
    original_deadline: datetime
    acknowledge_by: datetime | None
    acknowledged_at: datetime | None
    reported_at: datetime | None
    completed_at: datetime | None
    escalation_level: int
    revision: int
    acknowledged_revision: int
    extension_requested_until: datetime | None
    report_summary: str | None
    report_evidence: list[str] | None
    review_comment: str | None
    updated_at: datetime


LISTED_COLUMNS = tuple(getattr(Assignment, name) for name in ListedAssignment._fields)


def _listed(*filters: Any) -> Select[Any]:
    return (
        select(*LISTED_COLUMNS, RECIPIENT_NAMES.c.name)
        .join(RECIPIENT_NAMES, RECIPIENT_NAMES.c.code == Assignment.commune_code)
        .where(*filters)
    )


# A directive's whole list, the read that is most often repeated: built once (see
# DIRECTIVE_WITH_COUNTS).
DIRECTIVE_LIST = (
    _listed(Assignment.directive_id == bindparam("directive_id"))
    .order_by(Assignment.commune_code)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)


def list_assignments(
    session: Session,
    directive_id: int | None,
    commune_code: CommuneScope,
    status: str | None,
    timeliness: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Any, str]], int]:
    """One directive's assignments by commune, or (no directive) a commune's or the province's
    across directives, newest deadline first, each with its commune's (or agency's) name. Rows
    of the shown columns (ListedAssignment), not ORM objects: building one per row was a third
    of a directive's list's time. The count is a query of its own only when the page is not
    the whole list."""
    filters: list[Any] = []
    if directive_id is not None:
        filters.append(Assignment.directive_id == directive_id)
    filters.extend(in_communes(Assignment.commune_code, commune_code))
    if status is not None:
        filters.append(Assignment.status == status)
    if timeliness is not None:
        filters.append(Assignment.timeliness == timeliness)
    if directive_id is not None and commune_code is None and status is None and timeliness is None:
        # A directive's whole list, unfiltered: the statement built once.
        rows = session.execute(
            DIRECTIVE_LIST, {"directive_id": directive_id, "limit": limit, "offset": offset}
        )
    else:
        rows = session.execute(
            _listed(*filters)
            .order_by(
                *(
                    (Assignment.commune_code,)
                    if directive_id is not None
                    else (Assignment.deadline.desc(), Assignment.directive_id.desc())
                ),
                Assignment.commune_code,
            )
            .limit(limit)
            .offset(offset)
        )
    found: list[tuple[Any, str]] = [(ListedAssignment(*columns), name) for *columns, name in rows]
    if offset == 0 and len(found) < limit:
        return found, len(found)
    total = session.scalar(select(func.count(Assignment.id)).where(*filters))
    return found, int(total or 0)


async def get_assignment(
    session: AsyncSession, directive_id: int, commune_code: str
) -> tuple[Assignment, str] | None:
    row = (
        await session.execute(
            _assignments_query().where(
                Assignment.directive_id == directive_id, Assignment.commune_code == commune_code
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


def assignment_with_directive(
    session: Session, directive_id: int, commune_code: str
) -> tuple[Assignment, str, Directive] | None:
    """One assignment, its commune's (or unit's) name and its directive, in one query: what an
    action on the assignment reads before it goes to the workflow."""
    row = session.execute(
        _assignments_query()
        .add_columns(Directive)
        .join(Directive, Directive.id == Assignment.directive_id)
        .where(Assignment.directive_id == directive_id, Assignment.commune_code == commune_code)
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def assignment_events(
    session: AsyncSession, directive_id: int, commune_code: str
) -> list[AssignmentEventRow]:
    rows = await session.scalars(
        select(AssignmentEventRow)
        .where(
            AssignmentEventRow.directive_id == directive_id,
            AssignmentEventRow.commune_code == commune_code,
        )
        .order_by(AssignmentEventRow.seq)
    )
    return list(rows)


async def list_notifications(
    session: AsyncSession,
    directive_id: int | None,
    commune_code: CommuneScope,
    kind: str | None,
    limit: int,
    offset: int,
    case_id: str | None = None,
) -> tuple[list[Notification], int]:
    filters: list[Any] = []
    if directive_id is not None:
        filters.append(Notification.directive_id == directive_id)
    if case_id is not None:
        filters.append(Notification.case_id == case_id)
    filters.extend(in_communes(Notification.commune_code, commune_code))
    if kind is not None:
        filters.append(Notification.kind == kind)
    total = await session.scalar(select(func.count(Notification.id)).where(*filters))
    rows = await session.scalars(
        select(Notification).where(*filters).order_by(Notification.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def delivery_states(session: AsyncSession, keys: list[str]) -> dict[str, Delivery]:
    """Where each of these messages stands on its way to its person, by key."""
    if not keys:
        return {}
    rows = await session.scalars(select(Delivery).where(Delivery.notification_key.in_(keys)))
    return {d.notification_key: d for d in rows}
