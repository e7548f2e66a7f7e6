"""Notices to the steering office about a message: recorded with their deliveries, started by
the caller. A dead letter and a channel that cannot send both tell the office this way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.delivery.messages import message_context, places
from activities.delivery.settings import DeliveryConfig
from activities.delivery.starts import delivery_rows
from db.models import PROVINCE_SCOPE, Delivery, Notification, Person, RosterEntry
from db.upsert import insert_ignoring_duplicates
from vocabulary.roles import Role

# The office's notices go as `delivery_failed` messages: never held for quiet hours, a digest or
# the daily cap, and never escalated themselves.
NOTICE_KIND = "delivery_failed"


def record_office_notices(
    session: Session,
    config: DeliveryConfig,
    about: Notification,
    template: str,
    step: str,
    key_for: Callable[[Person], str],
    context: dict[str, Any],
) -> list[str]:
    """Record one notice about the message `about` for each of the office's people, rendered
    from `template` with `context` added; the keys (`key_for(person)`) of those recorded, the
    same on every call, so the caller's start sends each once."""
    office = session.scalars(
        select(Person)
        .join(RosterEntry, RosterEntry.person_id == Person.id)
        .where(
            RosterEntry.role == Role.STEERING_OFFICE.value,
            RosterEntry.scope == PROVINCE_SCOPE,
        )
        .order_by(Person.id)
    )
    directive, commune = places(session, about)
    rows: list[dict[str, Any]] = []
    deliveries: list[tuple[str, Person | None, str]] = []
    for person in office:
        key = key_for(person)
        message = config.renderer.render(
            template,
            "email",
            person.language,
            {
                **message_context(about, directive, commune, person),
                "failed": {"subject": about.subject, "to": about.recipient},
                **context,
            },
        )
        rows.append(
            {
                "idempotency_key": key,
                "directive_id": about.directive_id,
                "case_id": about.case_id,
                "commune_code": about.commune_code,
                "kind": NOTICE_KIND,
                "step": step,
                "person_id": person.id,
                "recipient": person.email,
                "recipient_role": Role.STEERING_OFFICE.value,
                "channel": person.channels.split(",")[0],
                "language": person.language,
                "subject": message.subject[:500],
                "body": message.body,
                "status": "recorded",
            }
        )
        deliveries.append((key, person, ""))
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
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
