"""A message no channel could deliver: kept as a dead letter, and told to the steering office
as a notice of its own (recorded here, started by the caller)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.delivery.messages import message_context, places
from activities.delivery.settings import DeliveryConfig
from activities.delivery.starts import delivery_rows
from db.models import PROVINCE_SCOPE, DeadLetter, Delivery, Notification, Person, RosterEntry
from db.upsert import insert_ignoring_duplicates
from vocabulary.roles import Role
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
        office = list(
            session.scalars(
                select(Person)
                .join(RosterEntry, RosterEntry.person_id == Person.id)
                .where(
                    RosterEntry.role == Role.STEERING_OFFICE.value,
                    RosterEntry.scope == PROVINCE_SCOPE,
                )
                .order_by(Person.id)
            )
        )
        directive, commune = places(session, failed)
        step = hashlib.sha256(request.notification_key.encode()).hexdigest()[:16]
        rows: list[dict[str, Any]] = []
        deliveries: list[tuple[str, Person | None, str]] = []
        for person in office:
            key = (
                f"notify:{failed.directive_id or failed.case_id}:{failed.commune_code}:"
                "delivery_failed:"
                f"{step}:{person.id}"
            )
            message = config.renderer.render(
                "delivery_failed",
                "email",
                person.language,
                {
                    **message_context(failed, directive, commune, person),
                    "failed": {"subject": failed.subject, "to": failed.recipient},
                    "reason": request.reason,
                },
            )
            first = person.channels.split(",")[0]
            rows.append(
                {
                    "idempotency_key": key,
                    "directive_id": failed.directive_id,
                    "case_id": failed.case_id,
                    "commune_code": failed.commune_code,
                    "kind": "delivery_failed",
                    "step": step,
                    "person_id": person.id,
                    "recipient": person.email,
                    "recipient_role": Role.STEERING_OFFICE.value,
                    "channel": first,
                    "language": person.language,
                    "subject": message.subject[:500],
                    "body": message.body,
                    "status": "recorded",
                }
            )
            deliveries.append((key, person, ""))
        if not rows:
            return []
        dialect = engine.dialect.name
        session.execute(
            insert_ignoring_duplicates(Notification.__table__, dialect, rows)  # type: ignore[arg-type]
        )
        session.execute(
            insert_ignoring_duplicates(
                Delivery.__table__,  # type: ignore[arg-type]
                dialect,
                delivery_rows(config, deliveries),
            )
        )
        return [str(row["idempotency_key"]) for row in rows]
