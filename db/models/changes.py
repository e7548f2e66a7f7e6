"""The change feed, and the shared rate counts of the API's limits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


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


class RateCount(Base):
    """Requests counted per limit, key and fixed window, shared by every API process."""

    __tablename__ = "rate_counts"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
