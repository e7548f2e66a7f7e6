"""The procedure catalogue and administrative-procedure dossiers: receive a dossier, read it,
and move it through its steps (each an update on the dossier's own workflow)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from api.action_keys import ActionKey
from api.deps import CurrentUser, OfficeUser
from services import dossiers, procedures
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
)
from services.dossiers import DossierAction
from serving.deps import SessionDep, SettingsDep, TemporalDep
from vocabulary.cases import DossierStatus, DossierTimeliness

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
    return await procedures.list_procedures(session)


@catalogue.get("/{code}")
async def get_procedure(code: str, user: CurrentUser, session: SessionDep) -> ProcedurePublic:
    return await procedures.read_procedure(session, code)


@catalogue.post("", status_code=status.HTTP_201_CREATED)
async def create_procedure(
    payload: ProcedureCreate, user: OfficeUser, session: SessionDep
) -> ProcedurePublic:
    """Add a procedure to the catalogue (steering office)."""
    return await procedures.create_procedure(session, payload, user)


@catalogue.patch("/{code}")
async def update_procedure(
    code: str, payload: ProcedureUpdate, user: OfficeUser, session: SessionDep
) -> ProcedurePublic:
    """Change a procedure (steering office). Setting a limit marks it verified. Dossiers already
    received keep the due time they were given."""
    return await procedures.update_procedure(session, code, payload)


@catalogue.put("/{code}/communes/{commune_code}")
async def set_commune_limit(
    code: str, commune_code: str, payload: CommuneLimit, user: OfficeUser, session: SessionDep
) -> CommuneLimitPublic:
    """A commune's own limit for the procedure (e.g. 18 working days instead of 8 in remote
    communes); dossiers received there from now on use it."""
    return await procedures.set_commune_limit(session, code, commune_code, payload)


# ---- dossiers ---------------------------------------------------------------------------------


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
    dossier, created = await dossiers.receive_dossier(
        session, temporal, settings, payload, user, idempotency_key
    )
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return dossier


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
    return await dossiers.list_dossiers(
        session,
        settings,
        user,
        commune_code,
        procedure_code,
        status_filter,
        timeliness,
        limit,
        offset,
    )


@router.get("/{dossier_id}")
async def get_dossier(dossier_id: int, user: CurrentUser, session: SessionDep) -> DossierDetail:
    return await dossiers.read_dossier(session, user, dossier_id)


@router.post("/{dossier_id}/start")
async def start_processing(
    dossier_id: int,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> DossierPublic:
    """The handling officer starts processing."""
    return await dossiers.take_step(
        session, temporal, user, dossier_id, DossierAction.START, idempotency_key=idempotency_key
    )


@router.post("/{dossier_id}/transfer")
async def transfer(
    dossier_id: int,
    payload: DossierTransfer,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> DossierPublic:
    """Move the dossier between the commune and the province (the two-level model)."""
    return await dossiers.take_step(
        session,
        temporal,
        user,
        dossier_id,
        DossierAction.TRANSFER,
        reason=payload.reason,
        to_level=payload.to_level,
        idempotency_key=idempotency_key,
    )


@router.post("/{dossier_id}/supplement-request")
async def request_supplement(
    dossier_id: int,
    payload: DossierStep,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> DossierPublic:
    """Ask the applicant to supplement the dossier (`reason`: what is missing); the clock
    pauses until the supplement is received."""
    return await dossiers.take_step(
        session,
        temporal,
        user,
        dossier_id,
        DossierAction.REQUEST_SUPPLEMENT,
        reason=payload.reason,
        idempotency_key=idempotency_key,
    )


@router.post("/{dossier_id}/supplement-received")
async def supplement_received(
    dossier_id: int,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> DossierPublic:
    """The supplement arrived: the clock runs again; the due time moves by the working days
    of the pause."""
    return await dossiers.take_step(
        session,
        temporal,
        user,
        dossier_id,
        DossierAction.SUPPLEMENT_RECEIVED,
        idempotency_key=idempotency_key,
    )


@router.post("/{dossier_id}/result-ready")
async def result_ready(
    dossier_id: int,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> DossierPublic:
    """The result is ready: the dossier is early, on time or late from here on."""
    return await dossiers.take_step(
        session,
        temporal,
        user,
        dossier_id,
        DossierAction.RESULT_READY,
        idempotency_key=idempotency_key,
    )


@router.post("/{dossier_id}/returned")
async def returned(
    dossier_id: int,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> DossierPublic:
    """The result was handed to the applicant: the dossier is closed."""
    return await dossiers.take_step(
        session, temporal, user, dossier_id, DossierAction.RETURNED, idempotency_key=idempotency_key
    )


@router.post("/{dossier_id}/refuse")
async def refuse(
    dossier_id: int,
    payload: DossierStep,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> DossierPublic:
    """Refuse the dossier with a written reason."""
    return await dossiers.take_step(
        session,
        temporal,
        user,
        dossier_id,
        DossierAction.REFUSE,
        reason=payload.reason,
        idempotency_key=idempotency_key,
    )
