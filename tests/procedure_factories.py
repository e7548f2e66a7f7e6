"""Builders for dossier and feedback tests: rows stored the way the API stores them, and the
workflow inputs the API gives them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.models import Dossier, Feedback, Notification, Procedure
from services.dossiers import dossier_input
from services.receipts import new_receipt_code
from vocabulary.calendar import processing_due
from vocabulary.cases import CasePolicy, DossierStatus, DossierTimeliness, FeedbackStatus
from workflows.procedure_types import DossierInput, FeedbackInput


def store_dossier(
    engine: Engine,
    procedure_code: str,
    commune_code: str,
    received_at: datetime,
    contact: str | None = "nguoi.nop@example.invalid",
) -> DossierInput:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        procedure = session.get(Procedure, procedure_code)
        assert procedure is not None and procedure.processing_unit is not None
        due = processing_due(
            received_at, procedure.processing_amount or 0, procedure.processing_unit
        )
        dossier = Dossier(
            receipt_code=new_receipt_code(),
            procedure_code=procedure_code,
            commune_code=commune_code,
            applicant_reference="Nguyễn Văn A",
            applicant_contact=contact,
            received_at=received_at,
            due_at=due,
            original_due_at=due,
            processing_unit=procedure.processing_unit,
            status=DossierStatus.RECEIVED.value,
            timeliness=DossierTimeliness.WITHIN_LIMIT.value,
            level=procedure.level,
            updated_at=received_at,
        )
        session.add(dossier)
    return dossier_input(dossier)


def store_feedback(
    engine: Engine,
    description: str,
    requested_at: datetime,
    address: str = "",
    email: str | None = "cong.dan@example.invalid",
    answer_within_working_days: int = 10,
) -> FeedbackInput:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        feedback = Feedback(
            receipt_code=new_receipt_code(),
            description=description,
            address=address,
            email=email,
            status=FeedbackStatus.RECEIVED.value,
            requested_at=requested_at,
            updated_at=requested_at,
        )
        session.add(feedback)
    return FeedbackInput(
        feedback_id=feedback.id,
        received_at=requested_at,
        policy=CasePolicy(),
        answer_within_working_days=answer_within_working_days,
    )


def case_messages(engine: Engine, case_id: str) -> list[Notification]:
    with Session(engine, expire_on_commit=False) as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.case_id == case_id)
                .order_by(Notification.id)
            )
        )


def case_counts(engine: Engine, case_id: str) -> dict[str, int]:
    """{"dossier_reminder:reminder-86400s-d1:commune_leader": 1, …}"""
    found: dict[str, int] = {}
    for n in case_messages(engine, case_id):
        key = f"{n.kind}:{n.step}:{n.recipient_role}"
        found[key] = found.get(key, 0) + 1
    return found
