"""Request and response bodies of the procedure catalogue, dossiers, feedback and the public
lookup. Requests refuse unknown fields, as every request of API v1 does."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from services.schemas import Request
from vocabulary.cases import DossierStatus, Level, LimitUnit

UNVERIFIED_NOTE = "no processing limit could be verified for this procedure"


class ProcedurePublic(BaseModel):
    code: str
    name: str
    name_en: str
    level: Level
    processing_days: int | None = Field(description="The limit's amount; none for same-day ones")
    processing_unit: LimitUnit | None = Field(description="None: no limit could be verified")
    verified: bool = Field(description="False where the record's number or unit is uncertain")
    count_receipt_day: bool
    processing_note: str
    legal_basis: str
    source: str


class ProceduresPublic(BaseModel):
    data: list[ProcedurePublic]
    count: int


class ProcedureCreate(Request):
    code: str = Field(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z.\-]+$")
    name: str = Field(min_length=1, max_length=2000)
    name_en: str = Field(default="", max_length=2000)
    level: Level
    processing_days: int | None = Field(default=None, ge=1, le=365)
    processing_unit: LimitUnit
    count_receipt_day: bool = False
    processing_note: str = Field(default="", max_length=4000)
    legal_basis: str = Field(default="", max_length=4000)
    source: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _amount_matches_unit(self) -> ProcedureCreate:
        check_limit(self.processing_days, self.processing_unit)
        return self


class ProcedureUpdate(Request):
    name: str | None = Field(default=None, min_length=1, max_length=2000)
    level: Level | None = None
    processing_days: int | None = Field(default=None, ge=1, le=365)
    processing_unit: LimitUnit | None = None
    count_receipt_day: bool | None = None
    processing_note: str | None = Field(default=None, max_length=4000)


def check_limit(days: int | None, unit: LimitUnit | None) -> None:
    if unit == LimitUnit.SAME_DAY and days is not None:
        raise ValueError("a same-day procedure takes no processing_days")
    if unit in (LimitUnit.WORKING_DAYS, LimitUnit.CALENDAR_DAYS) and days is None:
        raise ValueError(f"a limit in {unit.value} needs processing_days")


class CommuneLimit(Request):
    """A commune's own limit for a procedure."""

    processing_days: int | None = Field(default=None, ge=1, le=365)
    processing_unit: LimitUnit

    @model_validator(mode="after")
    def _amount_matches_unit(self) -> CommuneLimit:
        check_limit(self.processing_days, self.processing_unit)
        return self


class CommuneLimitPublic(BaseModel):
    procedure_code: str
    commune_code: str
    processing_days: int | None
    processing_unit: LimitUnit


class DossierCreate(Request):
    procedure_code: str = Field(min_length=1, max_length=20)
    commune_code: str = Field(min_length=1, max_length=8)
    received_at: AwareDatetime = Field(
        description="When the complete, valid dossier was received (ISO 8601 with an offset)"
    )
    applicant_reference: str = Field(
        min_length=1, max_length=200, description="The applicant's name or file reference"
    )
    applicant_contact: str | None = Field(
        default=None, max_length=320, description="Email or phone for the apology letter"
    )


class DossierPublic(BaseModel):
    id: int
    workflow_id: str
    receipt_code: str
    procedure_code: str
    commune_code: str
    applicant_reference: str
    received_at: datetime
    due_at: datetime | None
    original_due_at: datetime | None
    processing_unit: LimitUnit | None
    status: DossierStatus
    timeliness: str
    level: Level
    paused_at: datetime | None
    appointment_at: datetime | None
    result_at: datetime | None
    closed_at: datetime | None
    escalation_level: int
    refusal_reason: str


class CaseEventPublic(BaseModel):
    seq: int
    kind: str
    at: datetime
    actor: str
    detail: dict[str, str]


class DossierDetail(DossierPublic):
    events: list[CaseEventPublic]


class DossiersPublic(BaseModel):
    data: list[DossierPublic]
    count: int


class DossierStep(Request):
    reason: str = Field(default="", max_length=2000)


class DossierTransfer(Request):
    to_level: Level
    reason: str = Field(default="", max_length=2000)


class FeedbackPublic(BaseModel):
    """What staff see: the text and place, never the citizen's contact details."""

    id: int
    workflow_id: str
    service_code: str | None
    commune_code: str | None
    routing_method: str | None
    description: str
    address: str
    status: str
    requested_at: datetime
    answer_due_at: datetime | None
    answer: str | None
    answered_at: datetime | None
    answered_on_time: bool | None
    escalation_level: int
    rating: int | None
    forwarded: int
    public_at: datetime | None = Field(
        default=None,
        description="When the office made the citizen's text public in the Open311 reads",
    )


class FeedbackDetail(FeedbackPublic):
    events: list[CaseEventPublic]


class FeedbackList(BaseModel):
    data: list[FeedbackPublic]
    count: int


class FeedbackForward(Request):
    to_commune: str = Field(min_length=1, max_length=8)
    reason: str = Field(default="", max_length=2000)


class FeedbackAnswer(Request):
    text: str = Field(min_length=1, max_length=8000)


class Rating(Request):
    rating: int = Field(ge=1, le=5)


class CaseStatusPublic(BaseModel):
    """What a receipt code reveals: the kind of case, its status and its dates. No names, no
    contact details, no text."""

    kind: Literal["dossier", "feedback"]
    status: str
    timeliness: str | None = None
    received_at: datetime
    due_at: datetime | None
    appointment_at: datetime | None = None
    finished_at: datetime | None = None
    procedure_name: str | None = None
    service_name: str | None = None
    commune_name: str | None = None
    answer: str | None = None
    rating: int | None = None
