"""The province's agencies that receive tasks besides the communes: its departments, the other
provincial bodies and the Party bodies; reference data the steering office keeps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class Unit(Base):
    __tablename__ = "units"

    # Letters first, so it can never be taken for a commune's five-digit code.
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    # A `vocabulary.unit_names.UnitKind`: department, provincial_body or party.
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    # The other written forms, "; " between them as units.csv writes them: plans separate units
    # with ";", so no form can hold one and the text reads back without loss.
    abbreviations: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    # The agency's head on the roster: the first step of its escalation ladder.
    head_email: Mapped[str | None] = mapped_column(String(320))
    # An inactive unit keeps its tasks' history but is no longer matched in new plans.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
