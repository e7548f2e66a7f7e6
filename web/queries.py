"""What the dashboard reads beyond the API's queries: today's numbers, what needs the office
now, a directive search, and a cheap version stamp the pages poll to refresh themselves.
Aggregates in SQL, a bounded list each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Assignment, Directive, Notification
from db.queries import directives_query
from db.recipients import recipient_names
from vocabulary.directives import ANSWERED_STATUSES, CLOSED_STATUSES, DirectiveStatus, Timeliness

ATTENTION_LIMIT = 20
CLOSED = [s.value for s in CLOSED_STATUSES]
UNANSWERED = [s.value for s in ANSWERED_STATUSES]


def _top_escalation() -> Any:
    """An escalation of this assignment reached the steering office (the ladder's top)."""
    return exists().where(
        Notification.directive_id == Assignment.directive_id,
        Notification.commune_code == Assignment.commune_code,
        Notification.kind == "escalation",
        Notification.recipient_role == "steering_office",
    )


@dataclass
class Today:
    open_directives: int
    overdue: int
    escalations: int
    reports_waiting: int
    extensions_waiting: int


async def today(session: AsyncSession) -> Today:
    open_directives = await session.scalar(
        select(func.count(Directive.id)).where(
            Directive.status.in_([DirectiveStatus.ACTIVE.value, DirectiveStatus.ISSUING.value])
        )
    )
    row = (
        await session.execute(
            select(
                func.count().filter(Assignment.timeliness == Timeliness.OVERDUE.value),
                func.count().filter(and_(Assignment.status.not_in(UNANSWERED), _top_escalation())),
                func.count().filter(Assignment.status == "reported"),
                func.count().filter(Assignment.extension_requested_until.is_not(None)),
            ).where(Assignment.status.not_in(CLOSED))
        )
    ).one()
    return Today(int(open_directives or 0), *(int(v or 0) for v in row))


async def attention(session: AsyncSession) -> dict[str, list[tuple[Assignment, str, str]]]:
    """Top-level escalations, reports waiting for review, extension requests: each the
    oldest first, with the commune's (or agency's) name and the directive's title."""
    names = recipient_names()
    base = (
        select(Assignment, names.c.name, Directive.title)
        .join(names, names.c.code == Assignment.commune_code)
        .join(Directive, Directive.id == Assignment.directive_id)
        .where(Assignment.status.not_in(CLOSED))
    )
    lists = {
        "escalations": base.where(Assignment.status.not_in(UNANSWERED), _top_escalation()).order_by(
            Assignment.deadline, Assignment.commune_code
        ),
        "reports": base.where(Assignment.status == "reported").order_by(
            Assignment.reported_at, Assignment.commune_code
        ),
        "extensions": base.where(Assignment.extension_requested_until.is_not(None)).order_by(
            Assignment.updated_at, Assignment.commune_code
        ),
    }
    found: dict[str, list[tuple[Assignment, str, str]]] = {}
    for key, query in lists.items():
        rows = await session.execute(query.limit(ATTENTION_LIMIT))
        found[key] = [(a, name, title) for a, name, title in rows]
    return found


async def search_directives(
    session: AsyncSession, text: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[Directive], int]:
    query = directives_query(None, status)
    if text:
        # The office's words, not wildcards: % and _ are matched as typed.
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(Directive.title).like(pattern, escape="\\"),
                func.lower(Directive.body).like(pattern, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Directive.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def version(session: AsyncSession, directive_id: int | None = None) -> str:
    """Changes whenever an assignment or directive the page shows is written: the newest write
    time and the row count, one indexed aggregate."""
    assignments = select(func.max(Assignment.updated_at), func.count(Assignment.id))
    directives = select(func.max(Directive.updated_at), func.count(Directive.id))
    if directive_id is not None:
        assignments = assignments.where(Assignment.directive_id == directive_id)
        directives = directives.where(Directive.id == directive_id)
    a_at, a_n = (await session.execute(assignments)).one()
    d_at, d_n = (await session.execute(directives)).one()
    return f"{a_at}|{a_n}|{d_at}|{d_n}"
