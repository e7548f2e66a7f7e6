"""INSERT … ON CONFLICT DO NOTHING for both SQLite and PostgreSQL: the primitive every
idempotent write in the product is built on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_duplicates(
    table: Table, dialect_name: str, rows: list[dict[str, Any]]
) -> Insert:
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    # One row goes in as a single VALUES clause, which SQLAlchemy compiles once and keeps; a
    # multi-row VALUES has no cache key and is compiled on every call. Most writes are one row
    # (an event, a reminder's message), so the common case skips the compiler.
    values: dict[str, Any] | list[dict[str, Any]] = rows[0] if len(rows) == 1 else rows
    return insert(table).values(values).on_conflict_do_nothing()
