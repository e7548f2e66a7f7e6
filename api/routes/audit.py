"""The audit log for the steering office: sign-ins, failed sign-ins, account changes and token
creation, read forward from an id (`after`), so a reader that keeps `next_after` sees each
entry once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import OfficeUser
from db.models import AuditEntry
from services.account_schemas import AuditEntryPublic, AuditPage
from serving.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
async def read_audit(
    user: OfficeUser,
    session: SessionDep,
    settings: SettingsDep,
    after: Annotated[int, Query(ge=0, description="Entries with an id above this one")] = 0,
    limit: Annotated[int, Query(ge=1, description="Capped at AXIS_MAX_PAGE_SIZE")] = 100,
) -> AuditPage:
    """Entries with id > `after`, in id order; `next_after` is the last id returned (or
    `after` when none)."""
    size = min(limit, settings.max_page_size)
    rows = list(
        await session.scalars(
            select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(size)
        )
    )
    return AuditPage(
        data=[AuditEntryPublic.model_validate(r, from_attributes=True) for r in rows],
        count=len(rows),
        next_after=rows[-1].id if rows else after,
    )
