"""The change feed: assignment and score changes in the order they were committed, paged by
an opaque cursor. A consumer stores the `next` cursor and asks again from there; nothing is
missed or repeated. A commune leader reads their own commune's changes only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import CurrentUser
from db.changes import CursorError, decode_cursor, encode_cursor
from db.models import Change
from db.queries import in_communes
from serving.deps import SessionDep

router = APIRouter(tags=["changes"])
MAX_CHANGES = 1000


class ChangePublic(BaseModel):
    cursor: str
    entity: str
    directive_id: int | None
    commune_code: str
    kind: str
    detail: dict[str, Any]
    at: datetime


class ChangesPublic(BaseModel):
    data: list[ChangePublic]
    # Where to ask from next time; the same cursor as `after` when nothing was new.
    next: str


@router.get("/changes")
async def list_changes(
    user: CurrentUser,
    session: SessionDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CHANGES)] = 100,
) -> ChangesPublic:
    """Changes after the cursor, oldest first (from the beginning without one)."""
    try:
        after_id = decode_cursor(after)
    except CursorError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e
    query = select(Change).where(
        Change.id > after_id, *in_communes(Change.commune_code, user.communes_filter())
    )
    rows = list(await session.scalars(query.order_by(Change.id).limit(limit)))
    data = [
        ChangePublic(
            cursor=encode_cursor(r.id),
            entity=r.entity,
            directive_id=r.directive_id,
            commune_code=r.commune_code,
            kind=r.kind,
            detail=r.detail,
            at=r.at,
        )
        for r in rows
    ]
    return ChangesPublic(data=data, next=data[-1].cursor if data else encode_cursor(after_id))
