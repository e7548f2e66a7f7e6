"""The province's indicators: a numeric target with dated milestones, and the values the office
and the units report against it. A value is never edited: a correction is a new row that
supersedes the old one, and the office's verification is recorded on the row it judged."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class Indicator(Base):
    __tablename__ = "indicators"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    # `vocabulary.indicators`: IndicatorKind, Direction, IndicatorScope, ReportingRhythm.
    kind: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(20))
    rhythm: Mapped[str] = mapped_column(String(20))
    unit_of_measure: Mapped[str] = mapped_column(String(100), default="")
    # "Plan 02 phase 2", "the working group's focus indicators": the board is read by group.
    group: Mapped[str] = mapped_column(String(200), default="", index=True)
    # A unit's code or a leader's name, as the plan writes it.
    responsible: Mapped[str] = mapped_column(String(300), default="")
    baseline_value: Mapped[float | None] = mapped_column(Float)
    baseline_on: Mapped[date | None] = mapped_column(Date)
    # `vocabulary.indicators.IndicatorSource`: reported by the units, or computed from the
    # product's own records (then no value is ever reported for it).
    source: Mapped[str] = mapped_column(String(40), default="reported", server_default="reported")
    # Goes up when the milestones or the direction change, as a rule set's version does: a
    # colour read earlier was judged against the earlier version.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IndicatorMilestone(Base):
    __tablename__ = "indicator_milestones"

    indicator_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("indicators.code"), primary_key=True
    )
    due_on: Mapped[date] = mapped_column(Date, primary_key=True)
    # A range such as 51–52; equal for a single target.
    target_low: Mapped[float] = mapped_column(Float)
    target_high: Mapped[float] = mapped_column(Float)


class IndicatorValue(Base):
    __tablename__ = "indicator_values"
    __table_args__ = (Index("ix_indicator_values_series", "indicator_code", "unit_code", "as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    indicator_code: Mapped[str] = mapped_column(String(40), ForeignKey("indicators.code"))
    # A commune's or an agency's code; None for a province-scoped indicator.
    unit_code: Mapped[str | None] = mapped_column(String(8))
    as_of: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    # submitted (waits for the office), accepted (counts) or returned (with a reason).
    status: Mapped[str] = mapped_column(String(20))
    return_reason: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[str] = mapped_column(String(300))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_by: Mapped[str | None] = mapped_column(String(300))
    verified_at: Mapped[datetime | None] = mapped_column()
    # The value this one corrects; the corrected row itself is never changed.
    supersedes: Mapped[int | None] = mapped_column(Integer, ForeignKey("indicator_values.id"))


class IndicatorPeriod(Base):
    """One reporting period of an indicator, opened once: for a commune-scoped indicator its
    directive gives every commune a reporting task due at `report_by`; a province's own has no
    directive (the office reports)."""

    __tablename__ = "indicator_periods"
    __table_args__ = (UniqueConstraint("indicator_code", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    indicator_code: Mapped[str] = mapped_column(String(40), ForeignKey("indicators.code"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    report_by: Mapped[datetime] = mapped_column()
    directive_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("directives.id"))
    opened_by: Mapped[str] = mapped_column(String(300))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
