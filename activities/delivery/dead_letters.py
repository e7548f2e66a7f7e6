"""A message no channel could deliver: kept as a dead letter, and told to the steering office
as a notice of its own (recorded here, started by the caller)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.delivery.office_notices import record_office_notices
from activities.delivery.settings import DeliveryConfig
from db.models import DeadLetter, Notification
from db.upsert import insert_ignoring_duplicates
from workflows.delivery_types import DeadLetterInput


def keep_dead_letter(engine: Engine, config: DeliveryConfig, request: DeadLetterInput) -> list[str]:
    """The keys of the office's notices to start; none when they were recorded before, or
    when the failed message was itself a notice that must not escalate."""
    with Session(engine) as session, session.begin():
        session.execute(
            insert_ignoring_duplicates(
                DeadLetter.__table__,  # type: ignore[arg-type]
                engine.dialect.name,
                [
                    {
                        "notification_key": request.notification_key,
                        "reason": request.reason[:1000],
                        "created_at": datetime.now(UTC),
                    }
                ],
            )
        )
        if not request.escalate:
            return []
        failed = session.scalar(
            select(Notification).where(Notification.idempotency_key == request.notification_key)
        )
        if failed is None:
            return []
        step = hashlib.sha256(request.notification_key.encode()).hexdigest()[:16]
        return record_office_notices(
            session,
            config,
            failed,
            "delivery_failed",
            step,
            lambda person: (
                f"notify:{failed.directive_id or failed.case_id}:{failed.commune_code}:"
                f"delivery_failed:{step}:{person.id}"
            ),
            {"reason": request.reason},
        )
