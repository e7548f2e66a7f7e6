"""The change feed: rows appended in the transaction that made the change, read by cursor.

Ids must grow in commit order, or a consumer that has read up to id 11 would never see an id
10 committed a moment later. SQLite has one writer at a time, so that holds there; PostgreSQL
allocates ids at insert time, so every writer takes one transaction-scoped advisory lock
before appending, and the appends of concurrent transactions commit one after the other."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, insert, or_, select, text
from sqlalchemy.orm import Session

from db.models import Change
from vocabulary.webhooks import DIRECTIVE_EVENTS

# pg_advisory_xact_lock key of the change feed ("axis" in ASCII).
CHANGES_LOCK = 0x61786973
CURSOR_PREFIX = "chg1:"


class CursorError(ValueError):
    pass


def append_changes(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append rows (entity, directive_id, commune_code, kind, detail, at) to the feed, inside
    the caller's transaction."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGES_LOCK})
    session.execute(insert(Change), rows)


def encode_cursor(change_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{change_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise CursorError("the cursor is not one this feed gave out") from e
    if not raw.startswith(CURSOR_PREFIX) or not raw[len(CURSOR_PREFIX) :].isdigit():
        raise CursorError("the cursor is not one this feed gave out")
    return int(raw[len(CURSOR_PREFIX) :])


def changes_after(session: Session, after: int, limit: int) -> list[Change]:
    return list(
        session.scalars(select(Change).where(Change.id > after).order_by(Change.id).limit(limit))
    )


def last_change_id(session: Session) -> int:
    """The newest id in the feed (0 when empty): a new subscriber starts after it."""
    return session.scalar(select(func.coalesce(func.max(Change.id), 0))) or 0


def of_event_types(types: frozenset[str]) -> ColumnElement[bool]:
    """The feed rows that are events of these types (`vocabulary.webhooks.event_type`, as
    SQL)."""
    wanted: list[ColumnElement[bool]] = []
    directive_kinds = [k for k in DIRECTIVE_EVENTS if f"directive.{k}" in types]
    if directive_kinds:
        wanted.append(and_(Change.entity == "directive", Change.kind.in_(directive_kinds)))
    if "assignment.changed" in types:
        wanted.append(and_(Change.entity == "assignment", Change.kind != "escalated"))
    if "assignment.escalated" in types:
        wanted.append(and_(Change.entity == "assignment", Change.kind == "escalated"))
    for entity, event in (
        ("score", "score.snapshot"),
        ("dossier", "dossier.changed"),
        ("feedback", "feedback.changed"),
    ):
        if event in types:
            wanted.append(Change.entity == entity)
    return or_(*wanted) if wanted else false()
