"""The procedure catalogue: every administrative procedure with its processing limit, and the
communes' own limits; the steering office keeps it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Procedure, ProcedureCommuneLimit
from db.upsert import insert_ignoring_duplicates
from services.case_schemas import (
    CommuneLimit,
    CommuneLimitPublic,
    ProcedureCreate,
    ProcedurePublic,
    ProceduresPublic,
    ProcedureUpdate,
    check_limit,
)
from services.cases import commune_of_province
from services.errors import Conflict, Invalid, NotFound
from services.principals import Principal
from vocabulary.cases import LimitUnit


def procedure_public(row: Procedure) -> ProcedurePublic:
    return ProcedurePublic(
        code=row.code,
        name=row.name,
        name_en=row.name_en,
        level=row.level,  # type: ignore[arg-type]
        processing_days=row.processing_amount,
        processing_unit=row.processing_unit,  # type: ignore[arg-type]
        verified=row.verified,
        count_receipt_day=row.count_receipt_day,
        processing_note=row.processing_note,
        legal_basis=row.legal_basis,
        source=row.source,
    )


async def list_procedures(session: AsyncSession) -> ProceduresPublic:
    rows = list(await session.scalars(select(Procedure).order_by(Procedure.code)))
    return ProceduresPublic(data=[procedure_public(p) for p in rows], count=len(rows))


async def _load(session: AsyncSession, code: str) -> Procedure:
    found = await session.get(Procedure, code)
    if found is None:
        raise NotFound(f"procedure {code} not found")
    return found


async def read_procedure(session: AsyncSession, code: str) -> ProcedurePublic:
    return procedure_public(await _load(session, code))


async def create_procedure(
    session: AsyncSession, payload: ProcedureCreate, user: Principal
) -> ProcedurePublic:
    """Add a procedure to the catalogue."""
    if await session.get(Procedure, payload.code) is not None:
        raise Conflict(f"procedure {payload.code} already exists")
    row = Procedure(
        code=payload.code,
        name=payload.name,
        name_en=payload.name_en,
        level=payload.level.value,
        processing_amount=payload.processing_days,
        processing_unit=payload.processing_unit.value,
        verified=True,
        count_receipt_day=payload.count_receipt_day,
        processing_note=payload.processing_note,
        legal_basis=payload.legal_basis,
        source=payload.source or f"entered by {user.actor}",
        updated_at=datetime.now(UTC),
    )
    session.add(row)
    await session.commit()
    return procedure_public(row)


async def update_procedure(
    session: AsyncSession, code: str, payload: ProcedureUpdate
) -> ProcedurePublic:
    """Change a procedure. Setting a limit marks it verified. Dossiers already received keep
    the due time they were given."""
    row = await _load(session, code)
    changes = payload.model_dump(exclude_unset=True)
    unit = payload.processing_unit or (
        LimitUnit(row.processing_unit) if row.processing_unit else None
    )
    days = changes.get("processing_days", row.processing_amount)
    if "processing_unit" in changes and unit == LimitUnit.SAME_DAY:
        days = None
    try:
        check_limit(days, unit)
    except ValueError as e:
        raise Invalid(str(e)) from e
    for field in ("name", "count_receipt_day", "processing_note"):
        if field in changes:
            setattr(row, field, changes[field])
    if payload.level is not None:
        row.level = payload.level.value
    if "processing_unit" in changes or "processing_days" in changes:
        row.processing_unit = unit.value if unit else None
        row.processing_amount = days
        row.verified = True
    row.updated_at = datetime.now(UTC)
    await session.commit()
    return procedure_public(row)


async def set_commune_limit(
    session: AsyncSession, code: str, commune_code: str, payload: CommuneLimit
) -> CommuneLimitPublic:
    """A commune's own limit for the procedure; dossiers received there from now on use it."""
    await _load(session, code)
    await commune_of_province(session, commune_code)
    existing = await session.scalar(
        select(ProcedureCommuneLimit).where(
            ProcedureCommuneLimit.procedure_code == code,
            ProcedureCommuneLimit.commune_code == commune_code,
        )
    )
    amount = payload.processing_days or 0
    if existing is None:
        bind = session.get_bind()
        await session.execute(
            insert_ignoring_duplicates(
                ProcedureCommuneLimit.__table__,  # type: ignore[arg-type]
                bind.dialect.name,
                [
                    {
                        "procedure_code": code,
                        "commune_code": commune_code,
                        "processing_amount": amount,
                        "processing_unit": payload.processing_unit.value,
                    }
                ],
            )
        )
    else:
        existing.processing_amount = amount
        existing.processing_unit = payload.processing_unit.value
    await session.commit()
    return CommuneLimitPublic(
        procedure_code=code,
        commune_code=commune_code,
        processing_days=payload.processing_days,
        processing_unit=payload.processing_unit,
    )


async def limit_for(
    session: AsyncSession, procedure: Procedure, commune_code: str
) -> tuple[int, LimitUnit]:
    """The limit that applies in this commune: its own, if it has one, else the procedure's."""
    override = await session.scalar(
        select(ProcedureCommuneLimit).where(
            ProcedureCommuneLimit.procedure_code == procedure.code,
            ProcedureCommuneLimit.commune_code == commune_code,
        )
    )
    if override is not None:
        return override.processing_amount, LimitUnit(override.processing_unit)
    if procedure.processing_unit is None:
        raise Invalid(
            f"procedure {procedure.code} has no verified processing limit: the steering office"
            " sets one (PATCH /api/v1/procedures/{code}) before dossiers of it are received"
        )
    return procedure.processing_amount or 0, LimitUnit(procedure.processing_unit)
