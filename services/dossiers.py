"""Administrative-procedure dossiers: receive one (its due time settled on the working-day
calendar, its workflow started), list and read them, and move one through its steps, each an
update on the dossier's own workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from config import Settings
from db.models import Dossier, Procedure
from db.queries import in_communes
from services.case_schemas import DossierCreate, DossierDetail, DossierPublic, DossiersPublic
from services.cases import (
    RECEIPT_ATTEMPTS,
    commune_of_province,
    dossier_events,
    send_step,
    start_case,
)
from services.errors import EngineUnavailable, Invalid, NotFound
from services.idempotency import act_once, find_replayed, fingerprint
from services.principals import Principal, require_role
from services.procedures import limit_for
from services.receipts import new_receipt_code
from vocabulary.calendar import processing_due
from vocabulary.cases import (
    CasePolicy,
    DossierStatus,
    DossierTimeliness,
    Level,
    LimitUnit,
    dossier_workflow_id,
)
from vocabulary.roles import Role
from workflows.dossier import DossierWorkflow
from workflows.procedure_types import DossierInput, DossierStepInput

# Who receives dossiers and moves them through their steps.
HANDLERS = (Role.STEERING_OFFICE, Role.COMMUNE_LEADER)


async def create_dossier(
    session: AsyncSession, payload: DossierCreate, user: Principal, idempotency_key: str | None
) -> tuple[Dossier, bool]:
    """Store a received dossier with its due time settled on the working-day calendar; with an
    idempotency key already used, return the dossier it created. Returns (dossier, created)."""
    # Naming another commune in the body is refused as a list filter on it is (403): commune
    # codes are public, no dossier's existence is told.
    user.communes_filter(payload.commune_code)
    request_fingerprint = fingerprint(payload)
    existing = await find_replayed(
        session, Dossier, idempotency_key, request_fingerprint, "dossier"
    )
    if existing is not None:
        return existing, False
    procedure = await session.get(Procedure, payload.procedure_code)
    if procedure is None:
        raise Invalid(f"unknown procedure code: {payload.procedure_code}")
    await commune_of_province(session, payload.commune_code)
    if payload.received_at > datetime.now(UTC):
        raise Invalid("received_at is in the future")
    amount, unit = await limit_for(session, procedure, payload.commune_code)
    # Stored and answered in UTC, as every time of the API.
    due = processing_due(
        payload.received_at, amount, unit.value, procedure.count_receipt_day
    ).astimezone(UTC)
    received_at = payload.received_at.astimezone(UTC)
    for _ in range(RECEIPT_ATTEMPTS):
        dossier = Dossier(
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint if idempotency_key else None,
            receipt_code=new_receipt_code(),
            procedure_code=procedure.code,
            commune_code=payload.commune_code,
            applicant_reference=payload.applicant_reference,
            applicant_contact=payload.applicant_contact,
            received_at=received_at,
            due_at=due,
            original_due_at=due,
            processing_unit=unit.value,
            status=DossierStatus.RECEIVED.value,
            timeliness=DossierTimeliness.WITHIN_LIMIT.value,
            level=procedure.level,
            updated_at=datetime.now(UTC),
        )
        session.add(dossier)
        try:
            await session.commit()
            return dossier, True
        except IntegrityError:
            await session.rollback()
            existing = await find_replayed(
                session, Dossier, idempotency_key, request_fingerprint, "dossier"
            )
            if existing is not None:
                return existing, False
            # Otherwise two receipt codes collided (1 in 2^60): draw another.
    raise EngineUnavailable("could not store the dossier")


def dossier_input(dossier: Dossier) -> DossierInput:
    assert dossier.due_at is not None and dossier.processing_unit is not None
    return DossierInput(
        dossier_id=dossier.id,
        procedure_code=dossier.procedure_code,
        commune_code=dossier.commune_code,
        received_at=dossier.received_at,
        due_at=dossier.due_at,
        unit=LimitUnit(dossier.processing_unit),
        policy=CasePolicy(),
    )


async def start_dossier(client: Client, settings: Settings, dossier: Dossier) -> None:
    await start_case(
        client,
        settings,
        DossierWorkflow.run,
        dossier_input(dossier),
        dossier_workflow_id(dossier.id),
    )


async def receive_dossier(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    payload: DossierCreate,
    user: Principal,
    idempotency_key: str | None,
) -> tuple[DossierPublic, bool]:
    """Receive a complete dossier and start its workflow. Returns (dossier, created): not
    created when the idempotency key named one received before."""
    require_role(user, *HANDLERS)
    dossier, created = await create_dossier(session, payload, user, idempotency_key)
    await session.commit()
    await start_dossier(temporal, settings, dossier)
    return dossier_public(dossier), created


async def load_dossier(session: AsyncSession, user: Principal, dossier_id: int) -> Dossier:
    """The dossier, if it exists and this user may see it: another commune's answers as a
    missing one."""
    dossier = await session.get(Dossier, dossier_id)
    if dossier is None or not user.may_see(dossier.commune_code):
        raise NotFound(f"dossier {dossier_id} not found")
    return dossier


def dossier_public(d: Dossier) -> DossierPublic:
    return DossierPublic(
        id=d.id,
        workflow_id=dossier_workflow_id(d.id),
        receipt_code=d.receipt_code,
        procedure_code=d.procedure_code,
        commune_code=d.commune_code,
        applicant_reference=d.applicant_reference,
        received_at=d.received_at,
        due_at=d.due_at,
        original_due_at=d.original_due_at,
        processing_unit=d.processing_unit,  # type: ignore[arg-type]
        status=d.status,  # type: ignore[arg-type]
        timeliness=d.timeliness,
        level=d.level,  # type: ignore[arg-type]
        paused_at=d.paused_at,
        appointment_at=d.appointment_at,
        result_at=d.result_at,
        closed_at=d.closed_at,
        escalation_level=d.escalation_level,
        refusal_reason=d.refusal_reason,
    )


async def read_dossier(session: AsyncSession, user: Principal, dossier_id: int) -> DossierDetail:
    dossier = await load_dossier(session, user, dossier_id)
    return DossierDetail(
        **dossier_public(dossier).model_dump(),
        events=await dossier_events(session, dossier_id),
    )


async def list_dossiers(
    session: AsyncSession,
    settings: Settings,
    user: Principal,
    commune_code: str | None,
    procedure_code: str | None,
    status: DossierStatus | None,
    timeliness: DossierTimeliness | None,
    limit: int,
    offset: int,
) -> DossiersPublic:
    """Dossiers, newest first (a commune leader: their own commune's only)."""
    filters: list[Any] = []
    filters.extend(in_communes(Dossier.commune_code, user.communes_filter(commune_code)))
    if procedure_code is not None:
        filters.append(Dossier.procedure_code == procedure_code)
    if status is not None:
        filters.append(Dossier.status == status.value)
    if timeliness is not None:
        filters.append(Dossier.timeliness == timeliness.value)
    total = await session.scalar(select(func.count(Dossier.id)).where(*filters))
    rows = await session.scalars(
        select(Dossier)
        .where(*filters)
        .order_by(Dossier.id.desc())
        .limit(min(limit, settings.max_page_size))
        .offset(offset)
    )
    return DossiersPublic(data=[dossier_public(d) for d in rows], count=int(total or 0))


class DossierAction(StrEnum):
    """The steps a handling officer takes on a dossier, each one update of its workflow."""

    START = "start"
    TRANSFER = "transfer"
    REQUEST_SUPPLEMENT = "request_supplement"
    SUPPLEMENT_RECEIVED = "supplement_received"
    RESULT_READY = "result_ready"
    RETURNED = "returned"
    REFUSE = "refuse"


UPDATE_OF: dict[DossierAction, Any] = {
    DossierAction.START: DossierWorkflow.start_processing,
    DossierAction.TRANSFER: DossierWorkflow.transfer,
    DossierAction.REQUEST_SUPPLEMENT: DossierWorkflow.request_supplement,
    DossierAction.SUPPLEMENT_RECEIVED: DossierWorkflow.supplement_received,
    DossierAction.RESULT_READY: DossierWorkflow.result_ready,
    DossierAction.RETURNED: DossierWorkflow.returned,
    DossierAction.REFUSE: DossierWorkflow.refuse,
}


async def take_step(
    session: AsyncSession,
    temporal: Client,
    user: Principal,
    dossier_id: int,
    step: DossierAction,
    *,
    reason: str = "",
    to_level: Level | None = None,
    idempotency_key: str | None = None,
) -> DossierPublic:
    """One step of a dossier (start, transfer, supplement, result, return, refuse) through its
    workflow; the answer is the dossier as the workflow then wrote it. With an idempotency key
    the step is taken once, and a repeat gets the first answer."""
    require_role(user, *HANDLERS)
    await load_dossier(session, user, dossier_id)
    workflow_id = dossier_workflow_id(dossier_id)
    argument = DossierStepInput(actor=user.actor, reason=reason, to_level=to_level)

    async def send(update_id: str | None) -> DossierPublic:
        await session.commit()
        handle = temporal.get_workflow_handle(workflow_id)
        await send_step(
            handle.execute_update(UPDATE_OF[step], argument, id=update_id),
            f"dossier {dossier_id}",
        )
        session.expire_all()
        return dossier_public(await load_dossier(session, user, dossier_id))

    return await act_once(
        session, workflow_id, step.value, idempotency_key, argument, DossierPublic, send
    )
