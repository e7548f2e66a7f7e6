"""Recurring directives and the periods of obligation they open for each commune, with the
activities reported against them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class RecurringDirective(Base):
    """A directive that repeats every week, run by a Temporal Schedule of the same id
    (`recurring-{id}`). Stored `pending` first, active once its schedule exists."""

    __tablename__ = "recurring_directives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # SHA-256 of the request that used the key: the same key with another request is refused.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    # Activities each commune reports per period to meet it.
    required_count: Mapped[int] = mapped_column(Integer)
    communes: Mapped[list[str]] = mapped_column(JSON)
    # A week with no working day on the Vietnamese calendar owes nothing.
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    # pending (stored, its schedule not made yet: the request or the reconciler makes it),
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
