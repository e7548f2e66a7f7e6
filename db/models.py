"""The SQL read model. Workflows own the truth of a process; these tables are what the API,
the dashboard and the scoring read, written only by idempotent activities (and the API for
directives, tokens and the roster)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vocabulary.directives import AssignmentState, DirectivePolicy, EscalationStep
from vocabulary.roles import Role


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC; SQLite drops the offset, so it is put back here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware values only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Commune(Base):
    __tablename__ = "communes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # "ward" (phường) or "commune" (xã); "special_zone" (đặc khu) exists nationally.
    kind: Mapped[str] = mapped_column(String(20))
    province_code: Mapped[str] = mapped_column(String(4), index=True)
    codename: Mapped[str] = mapped_column(String(200))


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    # Channels in order of preference, comma-separated: "zalo,sms,email".
    channels: Mapped[str] = mapped_column(String(100), default="email")
    language: Mapped[str] = mapped_column(String(5), default="vi")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


class RosterEntry(Base):
    """Who answers for what: a person's role for one commune, or for the province."""

    __tablename__ = "roster"
    __table_args__ = (UniqueConstraint("role", "scope", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    # A commune code, or PROVINCE_SCOPE for the steering office.
    scope: Mapped[str] = mapped_column(String(16), index=True)


PROVINCE_SCOPE = "province"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("communes.code"))
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    # Unset: the token works until revoked.
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    # An official in charge's token covers the communes this person answers for on the roster.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))


class Directive(Base):
    __tablename__ = "directives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # SHA-256 of the request that used the key: the same key with another request is refused.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The last revision that changed the text: amendments after it changed only the deadline.
    content_revision: Mapped[int] = mapped_column(Integer, default=1)
    issued_at: Mapped[datetime] = mapped_column()
    issued_by: Mapped[str] = mapped_column(String(200))
    # Computed once by the plan activity when given in working days.
    deadline: Mapped[datetime | None] = mapped_column()
    due_in_working_days: Mapped[int | None] = mapped_column(Integer)
    acknowledge_by: Mapped[datetime | None] = mapped_column()
    communes: Mapped[list[str]] = mapped_column(JSON)
    # DirectivePolicy as policy_to_json writes it.
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("directive_id", "commune_code"),
        Index("ix_assignments_commune_status", "commune_code", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    status: Mapped[str] = mapped_column(String(16))
    timeliness: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[datetime] = mapped_column()
    original_deadline: Mapped[datetime] = mapped_column()
    acknowledge_by: Mapped[datetime | None] = mapped_column()
    revision: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_revision: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    reported_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    extension_requested_until: Mapped[datetime | None] = mapped_column()
    report_summary: Mapped[str | None] = mapped_column(Text)
    report_evidence: Mapped[list[str] | None] = mapped_column(JSON)
    review_comment: Mapped[str | None] = mapped_column(Text)
    # The workflow's state sequence: a write older than what is stored is ignored, so
    # activities may land in any order and any number of times.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def policy_to_json(policy: DirectivePolicy) -> dict[str, Any]:
    """How a directive's policy is stored (seconds; roles by name)."""
    return {
        "reminder_offsets_seconds": list(policy.reminder_offsets_seconds),
        "escalation": [
            {"after_seconds": step.after_seconds, "to": step.to.value} for step in policy.escalation
        ],
        "acknowledge_within_seconds": policy.acknowledge_within_seconds,
    }


def policy_from_json(stored: dict[str, Any]) -> DirectivePolicy:
    return DirectivePolicy(
        reminder_offsets_seconds=list(stored["reminder_offsets_seconds"]),
        escalation=[
            EscalationStep(after_seconds=step["after_seconds"], to=Role(step["to"]))
            for step in stored["escalation"]
        ],
        acknowledge_within_seconds=stored.get("acknowledge_within_seconds"),
    )


def assignment_columns(state: AssignmentState) -> dict[str, Any]:
    """The columns of an assignment row that its workflow's state sets."""
    return {
        "status": state.status.value,
        "timeliness": state.timeliness.value,
        "deadline": state.deadline,
        "original_deadline": state.original_deadline,
        "revision": state.revision,
        "acknowledged_revision": state.acknowledged_revision,
        "acknowledged_at": state.acknowledged_at,
        "reported_at": state.reported_at,
        "completed_at": state.completed_at,
        "escalation_level": state.escalation_level,
        "extension_requested_until": state.extension_requested_until,
        "seq": state.seq,
    }


class AssignmentEventRow(Base):
    __tablename__ = "assignment_events"
    __table_args__ = (UniqueConstraint("directive_id", "commune_code", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"))
    commune_code: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_directive_commune", "directive_id", "commune_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # notify:{directive}:{commune}:{kind}:{step}:{person}: one message per key, ever.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # A directive's messages carry its id; a dossier's or a feedback's carry case_id instead.
    directive_id: Mapped[int | None] = mapped_column(ForeignKey("directives.id"))
    commune_code: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "dossier-12", "feedback-5": the citizen-facing case a message belongs to.
    case_id: Mapped[str | None] = mapped_column(String(40), index=True)


# ---- procedures: the catalogue, dossiers and community feedback ----------------------------


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


# Scoring: the roll-up reads assignments by commune and original deadline (an extension never
# moves an assignment into another period). The index covers every column the roll-up reads,
# so a province-year is counted from the index alone, commune by commune, with no sort.
Index(
    "ix_assignments_rollup",
    Assignment.commune_code,
    Assignment.original_deadline,
    Assignment.status,
    Assignment.timeliness,
    Assignment.escalation_level,
    Assignment.acknowledge_by,
    Assignment.acknowledged_at,
    Assignment.reported_at,
    Assignment.directive_id,
)


class ScoreSnapshot(Base):
    """One commune's scorecard for one period, as a rule set computed it on one day. The daily
    job, a request of the office and a recompute all write here; a second write of the same
    (day, period, commune, rules) stores nothing, so two API processes keep one result."""

    __tablename__ = "score_snapshots"
    __table_args__ = (
        UniqueConstraint("snapshot_date", "period", "commune_code", "rules_version"),
        Index("ix_score_snapshots_commune_date", "commune_code", "snapshot_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The day in Asia/Ho_Chi_Minh, ISO (2026-11-30); for a recompute, the day it was run.
    snapshot_date: Mapped[str] = mapped_column(String(10))
    # The period's key as the API writes it: 2026-11, 2026-Q4, 2026, or 2026-11-01..2026-11-15.
    period: Mapped[str] = mapped_column(String(32))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    rules_version: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column()
    band: Mapped[str] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(Integer)
    # The whole scorecard (indicators, values, colours, points lost and why).
    scorecard: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Change(Base):
    """The change feed: one row per change of an assignment's state or of a stored score,
    appended in the transaction that made the change. Ids grow in commit order (writers take
    one lock before appending), so a consumer that pages by id misses nothing."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "assignment" or "score".
    entity: Mapped[str] = mapped_column(String(16))
    directive_id: Mapped[int | None] = mapped_column(Integer)
    commune_code: Mapped[str] = mapped_column(String(8))
    # assignment: the workflow's event (acknowledged, reported …); score: the period.
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RecurringDirective(Base):
    """A directive that repeats every week, run by a Temporal Schedule of the same id
    (`recurring-{id}`)."""

    __tablename__ = "recurring_directives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    # Activities each commune reports per period to meet it.
    required_count: Mapped[int] = mapped_column(Integer)
    communes: Mapped[list[str]] = mapped_column(JSON)
    # A week with no working day on the Vietnamese calendar owes nothing.
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    # active, paused or deleted.
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ObligationPeriod(Base):
    """One commune's part of one period of a recurring directive: open, then met or missed
    (or not_applicable)."""

    __tablename__ = "obligation_periods"
    __table_args__ = (
        UniqueConstraint("recurring_id", "starts_at", "commune_code"),
        Index("ix_obligation_periods_commune_ends", "commune_code", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recurring_id: Mapped[int] = mapped_column(ForeignKey("recurring_directives.id"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    required_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reported_count: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column()


class ObligationReport(Base):
    """An activity a commune reports against a period: title, the day it took place, a link.
    The same report sent twice is stored once."""

    __tablename__ = "obligation_reports"
    __table_args__ = (UniqueConstraint("period_id", "title", "done_on", "link"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("obligation_periods.id"))
    title: Mapped[str] = mapped_column(String(500))
    # ISO day (Asia/Ho_Chi_Minh).
    done_on: Mapped[str] = mapped_column(String(10))
    link: Mapped[str] = mapped_column(String(1000))
    reported_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """Where a message stands on its way to its person: one row per notification (or digest)
    key, written by the delivery workflow's activities in the order of its own sequence."""

    __tablename__ = "deliveries"
    # The sweep looks for messages still queued.
    __table_args__ = (Index("ix_deliveries_state_seq", "state", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_key: Mapped[str] = mapped_column(String(200), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # queued, waiting_quiet_hours, in_digest, sent, unconfirmed, failed, dead_lettered,
    # no_channel
    state: Mapped[str] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(500), default="")
    # The acknowledgement link the message carries, if any: SMS and Zalo texts use it too.
    link: Mapped[str] = mapped_column(String(700), default="")
    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEntry(Base):
    """One send of one message on one channel. The row is claimed before the provider is
    called, in its own transaction: a second claim finds it and never sends again blindly."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("notification_key", "channel"),
        Index("ix_outbox_person_day", "person_id", "local_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_key: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # sending (outcome not known yet), retry, sent, unconfirmed, failed
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # What the provider sees as the idempotency key / Message-ID: the same on every attempt.
    idempotency_key: Mapped[str] = mapped_column(String(200))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[datetime | None] = mapped_column()
    # The person's day (Vietnam) the send counts against for the daily cap, by the clock of
    # the workflow that asked.
    local_day: Mapped[str] = mapped_column(String(10), default="")
    # What the provider reported later (eSMS: delivered, rejected, waiting).
    provider_status: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """A message no channel could deliver: kept for the steering office, which is told."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_key: Mapped[str] = mapped_column(String(200), unique=True)
    reason: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsedLink(Base):
    """Acknowledgement links already followed: each works once."""

    __tablename__ = "used_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[str] = mapped_column(String(64), unique=True)
    directive_id: Mapped[int] = mapped_column(Integer)
    commune_code: Mapped[str] = mapped_column(String(8))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderToken(Base):
    """A gateway's current access token and its single-use refresh token, shared by every
    worker: a refresh happens under this row's lock, once."""

    __tablename__ = "provider_tokens"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text, default="")
    refresh_token: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebAccount(Base):
    """A person who signs in to the pages: the steering office or one commune's leader.
    The password is stored as an scrypt hash only."""

    __tablename__ = "web_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("communes.code"))
    # Empty until the person chooses a password through their setup link.
    password_hash: Mapped[str] = mapped_column(String(255))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()
    email: Mapped[str | None] = mapped_column(String(320))
    # The roster person behind the account (an official in charge's communes come from it).
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))


class WebSession(Base):
    """A signed-in browser. The cookie carries a random id (signed); only its hash is stored,
    with the CSRF token every form of the session must send back."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("web_accounts.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class EvidenceFile(Base):
    """A file a commune uploaded as evidence for an assignment, stored under the data
    directory by a random name; served back only to the office and that commune."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountSetup(Base):
    """A single-use link with which a person chooses their password. Only the token's hash is
    stored; a newer link (a reset) supersedes the older ones."""

    __tablename__ = "account_setups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("web_accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200))


class AuditEntry(Base):
    """Who signed in, failed to, changed an account or created a token: append-only, read by
    the steering office in id order."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), default="")
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RateCount(Base):
    """Requests counted per limit, key and fixed window, shared by every API process."""

    __tablename__ = "rate_counts"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
