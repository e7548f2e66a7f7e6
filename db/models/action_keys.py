"""The actions taken with an `Idempotency-Key`: each key, the request it came with, and the
answer it was given, so that a client retrying after a lost response gets that answer again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class ActionKey(Base):
    """One action on a workflow (an assignment's report, a dossier's step …) taken with a
    client's key. The row is written before the workflow is asked, binding the key to its
    request; the answer is added once the action is done. A key is unique per workflow."""

    __tablename__ = "action_keys"
    __table_args__ = (UniqueConstraint("workflow_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The workflow the action went to: "directive-42/commune-24133", "dossier-7" …
    workflow_id: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    # The action's name ("report", "start" …), also the first part of the update's id.
    action: Mapped[str] = mapped_column(String(40))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    # The answer's body, once the action is done; None while it is in flight or was refused.
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
