"""The province's units besides its communes (departments, the other provincial bodies and the
Party bodies): the reference list the steering office keeps, and the directory a plan's unit
names are resolved against.

Every name and abbreviation must lead to one unit only: a change is checked by building the
directory with it applied, so a form another unit, a commune or a collective name already uses
is refused naming both, before anything is stored."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.communes import DAK_LAK
from db.models import Commune as CommuneRow
from db.models import Unit as UnitRow
from db.units import join_abbreviations, split_abbreviations
from db.upsert import insert_ignoring_duplicates
from services.errors import Conflict, Invalid, NotFound
from services.unit_schemas import (
    UNIT_CODE_RULE,
    UnitCreate,
    UnitPublic,
    UnitsPublic,
    UnitUpdate,
    is_unit_code,
)
from vocabulary.unit_names import Commune, Unit, UnitDirectory, UnitKind, UnitNameError

# The order the office lists its units in: departments, the other bodies, the Party.
_KIND_ORDER = {kind: place for place, kind in enumerate(UnitKind)}


def unit_public(row: UnitRow) -> UnitPublic:
    return UnitPublic(
        code=row.code,
        kind=UnitKind(row.kind),
        name=row.name,
        abbreviations=list(split_abbreviations(row.abbreviations)),
        note=row.note,
        head_email=row.head_email,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _unit(row: UnitRow) -> Unit:
    return Unit(row.code, UnitKind(row.kind), row.name, split_abbreviations(row.abbreviations))


async def _communes(session: AsyncSession) -> list[Commune]:
    rows = await session.execute(
        select(CommuneRow.code, CommuneRow.name)
        .where(CommuneRow.province_code == str(DAK_LAK))
        .order_by(CommuneRow.code)
    )
    return [Commune(code, name) for code, name in rows]


async def list_units(
    session: AsyncSession, kind: UnitKind | None = None, active: bool | None = None
) -> UnitsPublic:
    """The units, departments first, then the other provincial bodies, then the Party bodies,
    each kind by code."""
    query = select(UnitRow)
    if kind is not None:
        query = query.where(UnitRow.kind == kind.value)
    if active is not None:
        query = query.where(UnitRow.active == active)
    rows = sorted(
        await session.scalars(query), key=lambda u: (_KIND_ORDER[UnitKind(u.kind)], u.code)
    )
    return UnitsPublic(data=[unit_public(u) for u in rows], count=len(rows))


async def _load(session: AsyncSession, code: str) -> UnitRow:
    found = await session.get(UnitRow, code)
    if found is None:
        raise NotFound(f"unit {code} not found")
    return found


async def read_unit(session: AsyncSession, code: str) -> UnitPublic:
    return unit_public(await _load(session, code))


async def _check_written_forms(session: AsyncSession, changed: Unit) -> None:
    """Refuse `changed` if one of its forms is another unit's, a commune's or a collective's.
    Inactive units count too: setting one active again must not make the list ambiguous."""
    others = await session.scalars(
        select(UnitRow).where(UnitRow.code != changed.code).order_by(UnitRow.code)
    )
    try:
        UnitDirectory([*(_unit(u) for u in others), changed], await _communes(session))
    except UnitNameError as e:
        raise Conflict(str(e)) from e


async def create_unit(session: AsyncSession, payload: UnitCreate) -> UnitPublic:
    """Add a unit to the province's list."""
    if not is_unit_code(payload.code):
        raise Invalid(f'"{payload.code}" is not a unit code: {UNIT_CODE_RULE}')
    existing = await session.get(UnitRow, payload.code)
    if existing is not None:
        raise Conflict(f"the code {payload.code} is already taken, by {existing.name}")
    unit = Unit(payload.code, payload.kind, payload.name, tuple(payload.abbreviations))
    await _check_written_forms(session, unit)
    now = datetime.now(UTC)
    row = {
        "code": payload.code,
        "kind": payload.kind.value,
        "name": payload.name,
        "abbreviations": join_abbreviations(payload.abbreviations),
        "note": payload.note,
        "head_email": payload.head_email,
        "active": True,
        "created_at": now,
        "updated_at": now,
    }
    # Two offices adding the same code at once: the second is told, not answered with a 500.
    statement = insert_ignoring_duplicates(
        UnitRow.__table__,  # type: ignore[arg-type]
        session.get_bind().dialect.name,
        [row],
    )
    added = (await session.scalars(statement.returning(UnitRow.code))).all()
    if not added:
        await session.rollback()
        raise Conflict(f"the code {payload.code} was given to another unit just now")
    await session.commit()
    return unit_public(await _load(session, payload.code))


async def update_unit(session: AsyncSession, code: str, payload: UnitUpdate) -> UnitPublic:
    """Change a unit. Its code never changes; plans already read keep the units they named."""
    row = await _load(session, code)
    changes = payload.model_dump(exclude_unset=True)
    kind = payload.kind or UnitKind(row.kind)
    name = payload.name or row.name
    abbreviations = (
        tuple(payload.abbreviations)
        if payload.abbreviations is not None
        else split_abbreviations(row.abbreviations)
    )
    await _check_written_forms(session, Unit(code, kind, name, abbreviations))
    row.kind = kind.value
    row.name = name
    row.abbreviations = join_abbreviations(abbreviations)
    for field in ("note", "head_email", "active"):
        if field in changes:
            setattr(row, field, changes[field])
    row.updated_at = datetime.now(UTC)
    await session.commit()
    return unit_public(row)


async def unit_directory(session: AsyncSession) -> UnitDirectory:
    """The active units and the province's communes by every form a plan writes them in, for
    reading a plan's lead and co-ordinating columns."""
    units = await session.scalars(select(UnitRow).where(UnitRow.active).order_by(UnitRow.code))
    try:
        return UnitDirectory([_unit(u) for u in units], await _communes(session))
    except UnitNameError as e:
        raise Conflict(f"the list of units cannot be read: {e}") from e
