"""Stored scorecards, and the index the scoring roll-up reads assignments through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow
from db.models.directives import Assignment

# Scoring: the roll-up reads assignments by commune and original deadline (an extension never
# moves an assignment into another period). The index covers every column the roll-up reads,
# so a province-year is counted from the index alone, commune by commune, with no sort (the
# timeline's counts next: without them, the roll-up read every row from the table; the
# directive's issue last: the medians measure from it, and the join that fetched it took half
# of the roll-up with medians on a million assignments).
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
    Assignment.returns,
    Assignment.extension_requests,
    Assignment.extensions_granted,
    Assignment.issued_at,
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
