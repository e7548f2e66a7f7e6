"""The idempotent insert every record is built on: a repeat stores nothing, and the one-row
form (an event, a reminder's message) is compiled once and reused, not on every call."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, Table, delete, func, select
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.engine.interfaces import CacheStats

from db.models import Notification
from db.upsert import insert_ignoring_duplicates

TABLE: Table = Notification.__table__  # type: ignore[assignment]


def message(key: str) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "directive_id": None,
        "commune_code": "24121",
        "kind": "reminder",
        "step": "upsert",
        "person_id": None,
        "recipient": "",
        "recipient_role": "commune_leader",
        "channel": "email",
        "language": "vi",
        "subject": "s",
        "body": "b",
        "status": "no_recipient",
    }


def test_a_one_row_insert_is_compiled_once_and_a_repeat_stores_nothing(engine: Engine) -> None:
    prefix = f"upsert-{uuid.uuid4().hex[:8]}"
    keys = [f"{prefix}-{n}" for n in range(3)]
    dialect = engine.dialect.name
    with engine.begin() as connection:
        stats = []
        for key in [*keys, keys[0]]:
            result = connection.execute(insert_ignoring_duplicates(TABLE, dialect, [message(key)]))
            context = result.context
            assert isinstance(context, DefaultExecutionContext)
            stats.append(context.cache_hit)
        stored = connection.scalar(
            select(func.count()).where(TABLE.c.idempotency_key.like(f"{prefix}-%"))
        )
        connection.execute(
            insert_ignoring_duplicates(
                TABLE, dialect, [message(f"{prefix}-{n}") for n in range(2, 5)]
            )
        )
        stored_after_many = connection.scalar(
            select(func.count()).where(TABLE.c.idempotency_key.like(f"{prefix}-%"))
        )
        connection.execute(delete(TABLE).where(TABLE.c.idempotency_key.like(f"{prefix}-%")))
    # The first call may compile (another test may have done it already); every later one is
    # served from the cache, the repeat included.
    assert stats[1:] == [CacheStats.CACHE_HIT] * 3
    assert stored == 3
    # Several rows in one statement: the two new ones stored, the one already there left alone.
    assert stored_after_many == 5
