"""Reads of the read model for the API: one SQL statement per answer, aggregation in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
        c = counts[directive_id]
        c["total"] += n
        c["status"][status] = c["status"].get(status, 0) + n
        c["timeliness"][timeliness] = c["timeliness"].get(timeliness, 0) + n
    return counts


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
    names = recipient_names()
    return select(Assignment, names.c.name).join(names, names.c.code == Assignment.commune_code)


async def list_assignments(
    session: AsyncSession,
    directive_id: int | None,
    commune_code: CommuneScope,
    status: str | None,
    timeliness: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Any, str]], int]:
    """One directive's assignments by commune, or (no directive) a commune's or the province's
    across directives, newest deadline first. Rows of the assignment's columns, read by name
    like the model's attributes: building an ORM object per row was a third of a directive's
    list's time. The count is a query of its own only when the page is not the whole list."""
    filters: list[Any] = []
    if directive_id is not None:
        filters.append(Assignment.directive_id == directive_id)
    filters.extend(in_communes(Assignment.commune_code, commune_code))
    if status is not None:
        filters.append(Assignment.status == status)
    if timeliness is not None:
        filters.append(Assignment.timeliness == timeliness)
    names = recipient_names()
    rows = await session.execute(
        select(*Assignment.__table__.c, names.c.name)
        .join(names, names.c.code == Assignment.commune_code)
        .where(*filters)
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
    found = [(row, row.name) for row in rows]
    if offset == 0 and len(found) < limit:
        return found, len(found)
    total = await session.scalar(select(func.count(Assignment.id)).where(*filters))
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


async def assignment_with_directive(
    session: AsyncSession, directive_id: int, commune_code: str
) -> tuple[Assignment, str, Directive] | None:
    """One assignment, its commune's (or unit's) name and its directive, in one query: what an
    action on the assignment reads before it goes to the workflow."""
    row = (
        await session.execute(
            _assignments_query()
            .add_columns(Directive)
            .join(Directive, Directive.id == Assignment.directive_id)
            .where(Assignment.directive_id == directive_id, Assignment.commune_code == commune_code)
        )
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
