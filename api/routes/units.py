"""Reference data: the province's units besides its communes (departments, the other
provincial bodies, the Party bodies), which the steering office keeps."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CurrentUser, OfficeUser
from services import units
from services.unit_schemas import UnitCreate, UnitPublic, UnitsPublic, UnitUpdate
from serving.deps import SessionDep
from vocabulary.unit_names import UnitKind

router = APIRouter(prefix="/units", tags=["units"])


@router.get("")
async def list_units(
    user: CurrentUser,
    session: SessionDep,
    kind: UnitKind | None = None,
    active: bool | None = None,
) -> UnitsPublic:
    """The province's departments, other provincial bodies and Party bodies, in that order,
    with the names and abbreviations plans write them in."""
    return await units.list_units(session, kind, active)


@router.get("/{code}")
async def get_unit(code: str, user: CurrentUser, session: SessionDep) -> UnitPublic:
    return await units.read_unit(session, code)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_unit(payload: UnitCreate, user: OfficeUser, session: SessionDep) -> UnitPublic:
    """Add a unit (steering office). Its name and abbreviations must lead to it alone: a form
    another unit, a commune or a collective name already uses is refused (409), naming both."""
    return await units.create_unit(session, payload)


@router.patch("/{code}")
async def update_unit(
    code: str, payload: UnitUpdate, user: OfficeUser, session: SessionDep
) -> UnitPublic:
    """Change a unit (steering office); its code stays. An inactive unit is kept for the record
    and no longer matched in new plans."""
    return await units.update_unit(session, code, payload)
