"""Webhook subscriptions of other systems (the province's LGSP and NDAP platforms, an agency's
own software), and the log of every attempt to deliver them an event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A POST repeated with the same Idempotency-Key finds this subscription, and its secret.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    # Event names (`vocabulary.webhooks.EVENT_TYPES`) or ["*"].
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(500), default="")
    # The Standard Webhooks signing secret ("whsec_" + base64), shown once when created. It is
    # kept to sign with, as the providers' keys are; it never leaves the API again.
    secret: Mapped[str] = mapped_column(String(100))
    # A `vocabulary.webhooks.SubscriptionStatus`.
    status: Mapped[str] = mapped_column(String(16), default="active")
    paused_reason: Mapped[str] = mapped_column(Text, default="")
    # The last change-feed id delivered (or found to be of no interest): where it goes on from.
    delivered_through: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    """One attempt to deliver one event to one subscription: what the receiver answered."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("subscription_id", "change_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    change_id: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(40))
    # 1 for the first attempt, as Temporal counts an activity's attempts.
    attempt: Mapped[int] = mapped_column(Integer)
    # delivered, failed (retried) or refused (not retried: the URL may not be reached).
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(default=utcnow)
