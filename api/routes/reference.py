"""Reference data: the communes and wards."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import CurrentUser
from db.models import Commune
from services.schemas import CommunePublic, CommunesPublic
from serving.deps import SessionDep

router = APIRouter(tags=["communes"])


@router.get("/communes")
async def list_communes(user: CurrentUser, session: SessionDep) -> CommunesPublic:
    """The 102 communes and wards of Dak Lak, with their official codes."""
    rows = await session.scalars(select(Commune).order_by(Commune.code))
    data = [
        CommunePublic(code=c.code, name=c.name, kind=c.kind, province_code=c.province_code)
        for c in rows
    ]
    return CommunesPublic(data=data, count=len(data))
