"""What the procedure, dossier and feedback routes do beyond validation: store a case, start its
workflow, send it a step, and read it back."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import check_commune_scope
from config import Settings
from db.communes import DAK_LAK
from db.models import (
    Commune,
    Dossier,
    DossierEventRow,
    Feedback,
    FeedbackEventRow,
    Procedure,
    ProcedureCommuneLimit,
)
from services.case_schemas import (
    CaseEventPublic,
    DossierCreate,
    DossierPublic,
    FeedbackPublic,
    ProcedurePublic,
)
from services.principals import Principal
from services.receipts import new_receipt_code
from vocabulary.calendar import processing_due
from vocabulary.cases import (
    CasePolicy,
    DossierStatus,
    DossierTimeliness,
    FeedbackStatus,
    LimitUnit,
    dossier_workflow_id,
    feedback_workflow_id,
)
from workflows.dossier import DossierWorkflow
from workflows.feedback import FeedbackWorkflow
from workflows.procedure_types import DossierInput, FeedbackInput

T = TypeVar("T")
RECEIPT_ATTEMPTS = 5


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


async def commune_of_province(session: AsyncSession, code: str) -> Commune:
    commune = await session.get(Commune, code)
    if commune is None or commune.province_code != str(DAK_LAK):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown commune code: {code}")
    return commune


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
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"procedure {procedure.code} has no verified processing limit: the steering office"
            " sets one (PATCH /api/v1/procedures/{code}) before dossiers of it are received",
        )
    return procedure.processing_amount or 0, LimitUnit(procedure.processing_unit)


async def create_dossier(
    session: AsyncSession, payload: DossierCreate, user: Principal, idempotency_key: str | None
) -> tuple[Dossier, bool]:
    """Store a received dossier with its due time settled on the working-day calendar; with an
    idempotency key already used, return the dossier it created. Returns (dossier, created)."""
    # Naming another commune in the body is refused as a list filter on it is (403): commune
    # codes are public, no dossier's existence is told.
    user.communes_filter(payload.commune_code)
    fingerprint = hashlib.sha256(payload.model_dump_json().encode()).hexdigest()
    if idempotency_key is not None:
        existing = await session.scalar(
            select(Dossier).where(Dossier.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return _replayed(existing, fingerprint), False
    procedure = await session.get(Procedure, payload.procedure_code)
    if procedure is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown procedure code: {payload.procedure_code}",
        )
    await commune_of_province(session, payload.commune_code)
    if payload.received_at > datetime.now(UTC):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "received_at is in the future")
    amount, unit = await limit_for(session, procedure, payload.commune_code)
    # Stored and answered in UTC, as every time of the API.
    due = processing_due(
        payload.received_at, amount, unit.value, procedure.count_receipt_day
    ).astimezone(UTC)
    received_at = payload.received_at.astimezone(UTC)
    for _ in range(RECEIPT_ATTEMPTS):
        dossier = Dossier(
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint if idempotency_key else None,
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
            if idempotency_key is not None:
                existing = await session.scalar(
                    select(Dossier).where(Dossier.idempotency_key == idempotency_key)
                )
                if existing is not None:
                    return _replayed(existing, fingerprint), False
            # Otherwise two receipt codes collided (1 in 2^60): draw another.
    raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "could not store the dossier")


def _replayed(dossier: Dossier, fingerprint: str) -> Dossier:
    if dossier.request_fingerprint != fingerprint:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "this Idempotency-Key was used for a different request: use a new key for a new"
            " dossier",
        )
    return dossier


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


async def start_case(
    client: Client, settings: Settings, workflow: Any, argument: object, workflow_id: str
) -> None:
    """Start (or find running) a case's workflow; safe to call any number of times."""
    try:
        await client.start_workflow(
            workflow,
            argument,
            id=workflow_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return
    except RPCError as e:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"{workflow_id} is stored but could not be started yet ({e.message}); repeat the"
            " request to start it",
        ) from e


async def start_dossier(client: Client, settings: Settings, dossier: Dossier) -> None:
    await start_case(
        client,
        settings,
        DossierWorkflow.run,
        dossier_input(dossier),
        dossier_workflow_id(dossier.id),
    )


async def start_feedback(client: Client, settings: Settings, feedback: Feedback) -> None:
    await start_case(
        client,
        settings,
        FeedbackWorkflow.run,
        FeedbackInput(
            feedback_id=feedback.id,
            received_at=feedback.requested_at,
            policy=CasePolicy(),
            answer_within_working_days=settings.feedback_answer_working_days,
        ),
        feedback_workflow_id(feedback.id),
    )


async def send_step(call: Awaitable[T], what: str) -> T:
    """One update to a case's workflow: a refusal is 409, a finished workflow 409 too."""
    try:
        return await call
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or e)
        raise HTTPException(status.HTTP_409_CONFLICT, message) from e
    except RPCError as e:
        if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise HTTPException(status.HTTP_409_CONFLICT, f"{what} is closed") from e
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"the workflow engine refused: {e.message}"
        ) from e


async def load_dossier(session: AsyncSession, user: Principal, dossier_id: int) -> Dossier:
    dossier = await session.get(Dossier, dossier_id)
    not_found = f"dossier {dossier_id} not found"
    if dossier is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, not_found)
    check_commune_scope(user, dossier.commune_code, not_found)
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


async def dossier_events(session: AsyncSession, dossier_id: int) -> list[CaseEventPublic]:
    rows = await session.scalars(
        select(DossierEventRow)
        .where(DossierEventRow.dossier_id == dossier_id)
        .order_by(DossierEventRow.seq)
    )
    return [
        CaseEventPublic(seq=e.seq, kind=e.kind, at=e.at, actor=e.actor, detail=e.detail)
        for e in rows
    ]


async def list_dossiers(
    session: AsyncSession, filters: list[Any], limit: int, offset: int
) -> tuple[list[Dossier], int]:
    total = await session.scalar(select(func.count(Dossier.id)).where(*filters))
    rows = await session.scalars(
        select(Dossier).where(*filters).order_by(Dossier.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


# ---- feedback --------------------------------------------------------------------------------


async def create_feedback(
    session: AsyncSession,
    description: str,
    address: str = "",
    service_code: str | None = None,
    commune_code: str | None = None,
    lat: str | None = None,
    long: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
) -> Feedback:
    """Store a feedback as received; its workflow classifies and routes it."""
    now = datetime.now(UTC)
    for _ in range(RECEIPT_ATTEMPTS):
        feedback = Feedback(
            receipt_code=new_receipt_code(),
            chosen_service_code=service_code,
            chosen_commune_code=commune_code,
            description=description,
            address=address,
            lat=lat,
            long=long,
            email=email,
            phone=phone,
            name=name,
            status=FeedbackStatus.RECEIVED.value,
            requested_at=now,
            updated_at=now,
        )
        session.add(feedback)
        try:
            await session.commit()
            return feedback
        except IntegrityError:
            await session.rollback()
    raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "could not store the feedback")


async def load_feedback(session: AsyncSession, user: Principal, feedback_id: int) -> Feedback:
    feedback = await session.get(Feedback, feedback_id)
    not_found = f"feedback {feedback_id} not found"
    if feedback is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, not_found)
    # Not routed yet (no commune): only the province sees it.
    check_commune_scope(user, feedback.commune_code, not_found)
    return feedback


def feedback_public(f: Feedback) -> FeedbackPublic:
    return FeedbackPublic(
        id=f.id,
        workflow_id=feedback_workflow_id(f.id),
        service_code=f.service_code,
        commune_code=f.commune_code,
        routing_method=f.routing_method,
        description=f.description,
        address=f.address,
        status=f.status,
        requested_at=f.requested_at,
        answer_due_at=f.answer_due_at,
        answer=f.answer,
        answered_at=f.answered_at,
        answered_on_time=f.answered_on_time,
        escalation_level=f.escalation_level,
        rating=f.rating,
        forwarded=f.forwarded,
    )


async def feedback_events(session: AsyncSession, feedback_id: int) -> list[CaseEventPublic]:
    rows = await session.scalars(
        select(FeedbackEventRow)
        .where(FeedbackEventRow.feedback_id == feedback_id)
        .order_by(FeedbackEventRow.seq)
    )
    return [
        CaseEventPublic(seq=e.seq, kind=e.kind, at=e.at, actor=e.actor, detail=e.detail)
        for e in rows
    ]
