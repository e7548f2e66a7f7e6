"""The procedure catalogue and administrative-procedure dossiers: receive a dossier, read it,
and move it through its steps (each an update on the dossier's own workflow)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from sqlalchemy import select

from api import procedure_services as services
from api.deps import CurrentUser, OfficeUser
from db.models import Dossier, Procedure, ProcedureCommuneLimit
from db.queries import in_communes
from db.upsert import insert_ignoring_duplicates
from services.case_schemas import (
    CommuneLimit,
    CommuneLimitPublic,
    DossierCreate,
    DossierDetail,
    DossierPublic,
    DossiersPublic,
    DossierStep,
    DossierTransfer,
    ProcedureCreate,
    ProcedurePublic,
    ProceduresPublic,
    ProcedureUpdate,
    check_limit,
)
from services.principals import Principal
from serving.deps import SessionDep, SettingsDep, TemporalDep
from vocabulary.cases import DossierStatus, DossierTimeliness, LimitUnit, dossier_workflow_id
from vocabulary.roles import Role
from workflows.dossier import DossierWorkflow
from workflows.procedure_types import DossierStepInput

catalogue = APIRouter(prefix="/procedures", tags=["procedures"])
router = APIRouter(prefix="/dossiers", tags=["dossiers"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a request with the same key and get the same dossier, never two",
    ),
]


@catalogue.get("")
async def list_procedures(user: CurrentUser, session: SessionDep) -> ProceduresPublic:
    """Every procedure with its processing limit and the limit's unit. `processing_unit: null`
    means no limit could be verified; `verified: false`, that the number or unit is uncertain."""
    rows = list(await session.scalars(select(Procedure).order_by(Procedure.code)))
    return ProceduresPublic(data=[services.procedure_public(p) for p in rows], count=len(rows))


@catalogue.get("/{code}")
async def get_procedure(code: str, user: CurrentUser, session: SessionDep) -> ProcedurePublic:
    found = await session.get(Procedure, code)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"procedure {code} not found")
    return services.procedure_public(found)


@catalogue.post("", status_code=status.HTTP_201_CREATED)
async def create_procedure(
    payload: ProcedureCreate, user: OfficeUser, session: SessionDep
) -> ProcedurePublic:
    """Add a procedure to the catalogue (steering office)."""
    if await session.get(Procedure, payload.code) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"procedure {payload.code} already exists")
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
    return services.procedure_public(row)


@catalogue.patch("/{code}")
async def update_procedure(
    code: str, payload: ProcedureUpdate, user: OfficeUser, session: SessionDep
) -> ProcedurePublic:
    """Change a procedure (steering office). Setting a limit marks it verified. Dossiers already
    received keep the due time they were given."""
    row = await session.get(Procedure, code)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"procedure {code} not found")
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
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e
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
    return services.procedure_public(row)


@catalogue.put("/{code}/communes/{commune_code}")
async def set_commune_limit(
    code: str, commune_code: str, payload: CommuneLimit, user: OfficeUser, session: SessionDep
) -> CommuneLimitPublic:
    """A commune's own limit for the procedure (e.g. 18 working days instead of 8 in remote
    communes); dossiers received there from now on use it."""
    if await session.get(Procedure, code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"procedure {code} not found")
    await services.commune_of_province(session, commune_code)
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


# ---- dossiers ---------------------------------------------------------------------------------


def _may_receive(user: Principal) -> None:
    if user.role not in (Role.STEERING_OFFICE, Role.COMMUNE_LEADER):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this action is for the role(s): steering_office, commune_leader",
        )


@router.post("", status_code=status.HTTP_201_CREATED)
async def receive_dossier(
    payload: DossierCreate,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DossierPublic:
    """Receive a complete dossier: its due time is settled on the Vietnamese working-day
    calendar and its workflow starts. The answer carries the applicant's receipt code."""
    _may_receive(user)
    dossier, created = await services.create_dossier(session, payload, user, idempotency_key)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    await session.commit()
    await services.start_dossier(temporal, settings, dossier)
    return services.dossier_public(dossier)


@router.get("")
async def list_dossiers(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    commune_code: str | None = None,
    procedure_code: str | None = None,
    status_filter: Annotated[DossierStatus | None, Query(alias="status")] = None,
    timeliness: DossierTimeliness | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DossiersPublic:
    """Dossiers, newest first (a commune leader: their own commune's only)."""
    filters: list[Any] = []
    filters.extend(in_communes(Dossier.commune_code, user.communes_filter(commune_code)))
    if procedure_code is not None:
        filters.append(Dossier.procedure_code == procedure_code)
    if status_filter is not None:
        filters.append(Dossier.status == status_filter.value)
    if timeliness is not None:
        filters.append(Dossier.timeliness == timeliness.value)
    rows, total = await services.list_dossiers(
        session, filters, min(limit, settings.max_page_size), offset
    )
    return DossiersPublic(data=[services.dossier_public(d) for d in rows], count=total)


@router.get("/{dossier_id}")
async def get_dossier(dossier_id: int, user: CurrentUser, session: SessionDep) -> DossierDetail:
    dossier = await services.load_dossier(session, user, dossier_id)
    return DossierDetail(
        **services.dossier_public(dossier).model_dump(),
        events=await services.dossier_events(session, dossier_id),
    )


async def _step(
    dossier_id: int,
    user: Principal,
    session: SessionDep,
    temporal: TemporalDep,
    update: Any,
    argument: DossierStepInput,
) -> DossierPublic:
    _may_receive(user)
    await services.load_dossier(session, user, dossier_id)
    await session.commit()
    handle = temporal.get_workflow_handle(dossier_workflow_id(dossier_id))
    await services.send_step(handle.execute_update(update, argument), f"dossier {dossier_id}")
    session.expire_all()
    return services.dossier_public(await services.load_dossier(session, user, dossier_id))


@router.post("/{dossier_id}/start")
async def start_processing(
    dossier_id: int, user: CurrentUser, session: SessionDep, temporal: TemporalDep
) -> DossierPublic:
    """The handling officer starts processing."""
    return await _step(
        dossier_id,
        user,
        session,
        temporal,
        DossierWorkflow.start_processing,
        DossierStepInput(actor=user.actor),
    )


@router.post("/{dossier_id}/transfer")
async def transfer(
    dossier_id: int,
    payload: DossierTransfer,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> DossierPublic:
    """Move the dossier between the commune and the province (the two-level model)."""
    return await _step(
        dossier_id,
        user,
        session,
        temporal,
        DossierWorkflow.transfer,
        DossierStepInput(actor=user.actor, reason=payload.reason, to_level=payload.to_level),
    )


@router.post("/{dossier_id}/supplement-request")
async def request_supplement(
    dossier_id: int,
    payload: DossierStep,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> DossierPublic:
    """Ask the applicant to supplement the dossier (`reason`: what is missing); the clock
    pauses until the supplement is received."""
    return await _step(
        dossier_id,
        user,
        session,
        temporal,
        DossierWorkflow.request_supplement,
        DossierStepInput(actor=user.actor, reason=payload.reason),
    )


@router.post("/{dossier_id}/supplement-received")
async def supplement_received(
    dossier_id: int, user: CurrentUser, session: SessionDep, temporal: TemporalDep
) -> DossierPublic:
    """The supplement arrived: the clock runs again; the due time moves by the working days
    of the pause."""
    return await _step(
        dossier_id,
        user,
        session,
        temporal,
        DossierWorkflow.supplement_received,
        DossierStepInput(actor=user.actor),
    )


@router.post("/{dossier_id}/result-ready")
async def result_ready(
    dossier_id: int, user: CurrentUser, session: SessionDep, temporal: TemporalDep
) -> DossierPublic:
    """The result is ready: the dossier is early, on time or late from here on."""
    return await _step(
        dossier_id,
        user,
        session,
        temporal,
        DossierWorkflow.result_ready,
        DossierStepInput(actor=user.actor),
    )


@router.post("/{dossier_id}/returned")
async def returned(
    dossier_id: int, user: CurrentUser, session: SessionDep, temporal: TemporalDep
) -> DossierPublic:
    """The result was handed to the applicant: the dossier is closed."""
    return await _step(
        dossier_id,
        user,
        session,
        temporal,
        DossierWorkflow.returned,
        DossierStepInput(actor=user.actor),
    )


@router.post("/{dossier_id}/refuse")
async def refuse(
    dossier_id: int,
    payload: DossierStep,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> DossierPublic:
    """Refuse the dossier with a written reason."""
    return await _step(
        dossier_id,
        user,
        session,
        temporal,
        DossierWorkflow.refuse,
        DossierStepInput(actor=user.actor, reason=payload.reason),
    )
