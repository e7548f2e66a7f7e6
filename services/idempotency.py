"""Requests repeated with an `Idempotency-Key`: the one fingerprint of a request, and the one
lookup of the object an earlier request with the same key created."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import Invalid

Row = TypeVar("Row")


def fingerprint(request: BaseModel) -> str:
    """What a request repeated with the same idempotency key must match."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


async def find_replayed(
    session: AsyncSession,
    model: type[Row],
    idempotency_key: str | None,
    request_fingerprint: str,
    noun: str,
) -> Row | None:
    """The object a request with this key created before, if any. A key used again must come
    with the same request: a different one is refused, not answered with the first's object."""
    if idempotency_key is None:
        return None
    table: Any = model
    existing: Any = await session.scalar(
        select(table).where(table.idempotency_key == idempotency_key)
    )
    if existing is not None and existing.request_fingerprint != request_fingerprint:
        raise Invalid(
            f"this Idempotency-Key was used for a different request: use a new key for a new {noun}"
        )
    found: Row | None = existing
    return found
