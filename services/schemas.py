"""Request and response bodies of API v1. Requests refuse unknown fields: a client that sends
`status` or `commune_code` where they are not accepted learns so at once (422)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import to_json

from services.durations import format_duration, parse_duration
from vocabulary.directives import CLOSED_STATUSES, DirectivePolicy, assignment_workflow_id

MAX_COMMUNES = 5000
MAX_REMINDERS = 20
MAX_ESCALATION_STEPS = 10
Text200 = Annotated[str, Field(min_length=1, max_length=200)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EscalationStepIn(Request):
    after: str = Field(description="ISO 8601 duration past the deadline, e.g. P1D or PT10S")
    to: Literal["official_in_charge", "steering_office"]

    @field_validator("after")
    @classmethod
    def _after(cls, value: str) -> str:
        parse_duration(value)
        return value


class DirectiveCreate(Request):
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=20_000)
    deadline: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with an offset, e.g. 2026-12-01T17:00:00+07:00"
    )
    due_in_working_days: int | None = Field(
        default=None, ge=1, le=365, description="Working days on the Vietnamese calendar"
    )
    acknowledge_within: str | None = Field(
        default=None, description="ISO 8601 duration after issue, e.g. P1D"
    )
    communes: list[str] | None = Field(
        default=None, max_length=MAX_COMMUNES, description="Commune codes; all when omitted"
    )
    reminder_offsets: list[str] = Field(
        default_factory=lambda: ["P1D", "-P1D"],
        max_length=MAX_REMINDERS,
        description="ISO 8601 durations before the deadline; a leading '-' means after it",
    )
    escalation: list[EscalationStepIn] = Field(
        default_factory=lambda: [
            EscalationStepIn(after="P2D", to="official_in_charge"),
            EscalationStepIn(after="P5D", to="steering_office"),
        ],
        max_length=MAX_ESCALATION_STEPS,
    )

    @field_validator("acknowledge_within")
    @classmethod
    def _acknowledge_within(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError("acknowledge_within must be longer than zero")
        return value

    @field_validator("reminder_offsets")
    @classmethod
    def _reminders(cls, values: list[str]) -> list[str]:
        seconds = [parse_duration(v, signed=True) for v in values]
        if len(set(seconds)) != len(seconds):
            raise ValueError("reminder offsets must differ from each other")
        return values

    @field_validator("communes")
    @classmethod
    def _communes(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        if not values:
            raise ValueError("communes, when given, must name at least one commune")
        if len(set(values)) != len(values):
            raise ValueError("communes must not repeat")
        return values

    @model_validator(mode="after")
    def _one_deadline(self) -> DirectiveCreate:
        if (self.deadline is None) == (self.due_in_working_days is None):
            raise ValueError("give exactly one of deadline and due_in_working_days")
        afters = [parse_duration(step.after) for step in self.escalation]
        if afters != sorted(set(afters)):
            raise ValueError("escalation steps must come in order of 'after', each later")
        return self


class DirectiveAmend(Request):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    body: str | None = Field(default=None, min_length=1, max_length=20_000)
    deadline: AwareDatetime | None = None

    @model_validator(mode="after")
    def _something(self) -> DirectiveAmend:
        if self.title is None and self.body is None and self.deadline is None:
            raise ValueError("give at least one of title, body and deadline")
        return self


class DirectiveRecall(Request):
    reason: str = Field(default="", max_length=2000)


class Counts(BaseModel):
    total: int
    status: dict[str, int]
    timeliness: dict[str, int]


class EscalationStepOut(BaseModel):
    after: str
    to: str


class DirectivePublic(BaseModel):
    id: int
    workflow_id: str
    title: str
    body: str
    status: str
    revision: int
    issued_at: datetime
    issued_by: str
    deadline: datetime | None
    due_in_working_days: int | None
    acknowledge_by: datetime | None
    acknowledge_within: str | None
    reminder_offsets: list[str]
    escalation: list[EscalationStepOut]
    communes_count: int
    counts: Counts


class DirectivesPublic(BaseModel):
    data: list[DirectivePublic]
    count: int


class AssignmentPublic(BaseModel):
    directive_id: int
    workflow_id: str
    commune_code: str
    commune_name: str
    status: str
    timeliness: str
    deadline: datetime
    original_deadline: datetime
    acknowledge_by: datetime | None
    acknowledged_at: datetime | None
    reported_at: datetime | None
    completed_at: datetime | None
    escalation_level: int
    revision: int
    acknowledged_revision: int
    needs_acknowledgement: bool
    extension_requested_until: datetime | None
    report_summary: str | None
    report_evidence: list[str] | None
    review_comment: str | None
    updated_at: datetime


class AssignmentEventPublic(BaseModel):
    seq: int
    kind: str
    at: datetime
    actor: str
    detail: dict[str, Any]


class AssignmentDetail(AssignmentPublic):
    events: list[AssignmentEventPublic]


class AssignmentsPublic(BaseModel):
    data: list[AssignmentPublic]
    count: int


def assignment_fields(assignment: Any, commune_name: str) -> dict[str, Any]:
    """An assignment, or a row of its columns, as AssignmentPublic's fields in the model's
    order: `AssignmentPublic(**fields)` is the model, `assignments_json` a list's answer."""
    return {
        "directive_id": assignment.directive_id,
        "workflow_id": assignment_workflow_id(assignment.directive_id, assignment.commune_code),
        "commune_code": assignment.commune_code,
        "commune_name": commune_name,
        "status": assignment.status,
        "timeliness": assignment.timeliness,
        "deadline": assignment.deadline,
        "original_deadline": assignment.original_deadline,
        "acknowledge_by": assignment.acknowledge_by,
        "acknowledged_at": assignment.acknowledged_at,
        "reported_at": assignment.reported_at,
        "completed_at": assignment.completed_at,
        "escalation_level": assignment.escalation_level,
        "revision": assignment.revision,
        "acknowledged_revision": assignment.acknowledged_revision,
        "needs_acknowledgement": assignment.status not in CLOSED_STATUSES
        and assignment.acknowledged_revision < assignment.revision,
        "extension_requested_until": assignment.extension_requested_until,
        "report_summary": assignment.report_summary,
        "report_evidence": assignment.report_evidence,
        "review_comment": assignment.review_comment,
        "updated_at": assignment.updated_at,
    }


def assignments_json(fields: list[dict[str, Any]], count: int) -> bytes:
    """AssignmentsPublic's JSON of `assignment_fields` dicts, byte for byte what the model would
    write, without a model per row: validating 102 AssignmentPublic and dumping them again was
    two fifths of the API's time for a directive's list (py-spy, 32 concurrent reads). The
    values are the database's, of the fields' types already."""
    return to_json({"data": fields, "count": count})


class AcknowledgeResult(AssignmentPublic):
    already_acknowledged: bool = False


class ReportCreate(Request):
    summary: str = Field(min_length=1, max_length=4000)
    evidence: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=20, description="Links or document references"
    )


class ReviewCreate(Request):
    decision: Literal["accept", "return"]
    comment: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _comment_on_return(self) -> ReviewCreate:
        if self.decision == "return" and not self.comment:
            raise ValueError("returning a report needs a comment saying what to rework")
        return self


class ExtensionCreate(Request):
    until: AwareDatetime
    reason: str = Field(default="", max_length=2000)


class ExtensionDecision(Request):
    decision: Literal["grant", "refuse"]
    until: AwareDatetime | None = Field(
        default=None, description="Grant until this time instead of the requested one"
    )
    comment: str = Field(default="", max_length=2000)


class CommunePublic(BaseModel):
    code: str
    name: str
    kind: str
    province_code: str


class CommunesPublic(BaseModel):
    data: list[CommunePublic]
    count: int


MAX_TOKEN_DAYS = 3650


class TokenCreate(Request):
    role: Literal[
        "steering_office", "commune_leader", "agency_head", "official_in_charge", "reader"
    ]
    commune_code: str | None = Field(
        None,
        description="commune_leader: the commune the token acts for; agency_head: the agency's"
        " code (`GET /api/v1/units`)",
    )
    name: Text200
    email: str | None = Field(
        None,
        max_length=320,
        description="official_in_charge only, and required for it: the email of the official"
        " on the roster. The token sees the communes the roster puts in that person's charge"
        " (422 when the roster has no official in charge with this email)",
    )
    expires_at: AwareDatetime | None = Field(
        None,
        description="When the token stops working (must be in the future); afterwards it"
        " answers 401 'the token has expired'. Leave out (and expires_in_days) for a token"
        " that works until revoked",
    )
    expires_in_days: int | None = Field(
        None, ge=1, le=MAX_TOKEN_DAYS, description="Instead of expires_at: days from now"
    )

    @model_validator(mode="after")
    def one_expiry(self) -> TokenCreate:
        if self.expires_at is not None and self.expires_in_days is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return self


class TokenPublic(BaseModel):
    id: int
    name: str
    role: str
    commune_code: str | None
    person_id: int | None = Field(
        None, description="official_in_charge: the roster person whose communes it sees"
    )
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None
    last_used_at: datetime | None = Field(
        None, description="The last request with this token, written at most once a minute"
    )


class TokenCreated(TokenPublic):
    token: str = Field(description="Shown once; only its hash is stored")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


class NotificationPublic(BaseModel):
    id: int
    idempotency_key: str
    directive_id: int | None
    commune_code: str
    kind: str
    step: str
    # None where withheld (see `withheld`).
    recipient: str | None
    recipient_role: str
    channel: str
    language: str
    subject: str
    body: str
    status: str
    created_at: datetime
    # A dossier's or a feedback's messages: "dossier-12", "feedback-5".
    case_id: str | None = None
    # A message to an applicant or a citizen, shown to anyone but the steering office: its
    # recipient, subject and body (their contact, name and receipt code) are left out.
    withheld: bool = False
    # queued, waiting_quiet_hours, in_digest, retrying, sent, unconfirmed, failed,
    # dead_lettered, no_channel; None: recorded only (no delivery).
    delivery_state: str | None = None
    delivery_attempts: int = 0
    delivery_channel: str | None = None
    delivery_detail: str = ""


class NotificationsPublic(BaseModel):
    data: list[NotificationPublic]
    count: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    temporal: str


def policy_out(policy: DirectivePolicy) -> dict[str, Any]:
    """A directive's policy in the API's ISO 8601 form."""
    within = policy.acknowledge_within_seconds
    return {
        "acknowledge_within": format_duration(within) if within else None,
        "reminder_offsets": [format_duration(s) for s in policy.reminder_offsets_seconds],
        "escalation": [
            {"after": format_duration(step.after_seconds), "to": step.to.value}
            for step in policy.escalation
        ],
    }


class NotificationPreview(BaseModel):
    kind: str
    channel: str
    language: str
    commune_code: str
    subject: str
    body: str
    characters: int
