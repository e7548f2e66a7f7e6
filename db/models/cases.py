"""Citizens' cases: the procedures' catalogue and limits, dossiers and community feedback,
with their timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class Procedure(Base):
    """An administrative procedure and its statutory processing limit, with the limit's unit."""

    __tablename__ = "procedures"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text, default="")
    # "commune" or "province": who handles it under the two-level model.
    level: Mapped[str] = mapped_column(String(16))
    # Both empty: no limit could be verified; a dossier of it has no due time.
    processing_amount: Mapped[int | None] = mapped_column(Integer)
    processing_unit: Mapped[str | None] = mapped_column(String(16))
    # False where the record states the number but not (reliably) its unit.
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    # The Civil Code's rule: the day of receipt is not counted.
    count_receipt_day: Mapped[bool] = mapped_column(Boolean, default=False)
    processing_note: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcedureCommuneLimit(Base):
    """A commune's own limit for a procedure (e.g. 18 instead of 8 working days in remote
    communes for a land-certificate correction)."""

    __tablename__ = "procedure_commune_limits"
    __table_args__ = (UniqueConstraint("procedure_code", "commune_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_code: Mapped[str] = mapped_column(ForeignKey("procedures.code"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    processing_amount: Mapped[int] = mapped_column(Integer)
    processing_unit: Mapped[str] = mapped_column(String(16))


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (Index("ix_dossiers_commune_status", "commune_code", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # What the applicant holds to look the dossier up; unguessable, unique.
    receipt_code: Mapped[str] = mapped_column(String(20), unique=True)
    procedure_code: Mapped[str] = mapped_column(ForeignKey("procedures.code"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    # Personal data: never shown on the public status page.
    applicant_reference: Mapped[str] = mapped_column(String(200))
    applicant_contact: Mapped[str | None] = mapped_column(String(320))
    received_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()
    # The due time as first computed: it stays for the statistics after a supplement pause.
    original_due_at: Mapped[datetime | None] = mapped_column()
    processing_unit: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    timeliness: Mapped[str] = mapped_column(String(16), index=True)
    level: Mapped[str] = mapped_column(String(16), default="commune")
    paused_at: Mapped[datetime | None] = mapped_column()
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    appointment_at: Mapped[datetime | None] = mapped_column()
    result_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    refusal_reason: Mapped[str] = mapped_column(Text, default="")

    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DossierEventRow(Base):
    __tablename__ = "dossier_events"
    __table_args__ = (UniqueConstraint("dossier_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Feedback(Base):
    """A piece of community feedback (an Open311 service request)."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_commune_status", "commune_code", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_code: Mapped[str] = mapped_column(String(20), unique=True)
    # What the citizen chose, if anything; the routing fills service_code and commune_code.
    chosen_service_code: Mapped[str | None] = mapped_column(String(32))
    chosen_commune_code: Mapped[str | None] = mapped_column(String(8))
    service_code: Mapped[str | None] = mapped_column(String(32))
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("communes.code"))
    routing_method: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[str | None] = mapped_column(String(32))
    long: Mapped[str | None] = mapped_column(String(32))
    # Personal data: never shown publicly.
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column()
    answer_due_at: Mapped[datetime | None] = mapped_column()
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column()
    answered_on_time: Mapped[bool | None] = mapped_column(Boolean)
    # Set when the office marks the request public: only then do public reads show its text.
    public_at: Mapped[datetime | None] = mapped_column()
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)
    forwarded: Mapped[int] = mapped_column(Integer, default=0)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedbackEventRow(Base):
    __tablename__ = "feedback_events"
    __table_args__ = (UniqueConstraint("feedback_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
