"""INSERT … ON CONFLICT DO NOTHING for both SQLite and PostgreSQL: the primitive every
idempotent write in the product is built on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_duplicates(
    table: Table, dialect_name: str, rows: list[dict[str, Any]]
) -> Insert:
    if dialect_name == "postgresql":
        return postgresql.insert(table).values(rows).on_conflict_do_nothing()
    return sqlite.insert(table).values(rows).on_conflict_do_nothing()
