"""Messages and their way to people: notifications, where each delivery stands, the outbox of
sends, dead letters, acknowledgement links used and the gateways' tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


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
