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

from workflows.types import AssignmentState, DirectivePolicy, EscalationStep, Role


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
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"))
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
