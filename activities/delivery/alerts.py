"""The steering office told that a channel cannot send to anyone (its token refused, its keys,
sender or template wrong): once a day for each breakdown, however many messages it stops,
while those messages go on their next channel."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.channels.base import Unavailable
from activities.delivery.messages import message_context, places
from activities.delivery.settings import DeliveryConfig
from activities.delivery.starts import delivery_rows
from db.models import PROVINCE_SCOPE, Delivery, Notification, Person, RosterEntry
from db.upsert import insert_ignoring_duplicates
from vocabulary.roles import Role

# The office's notice goes as a `delivery_failed` message: never held for quiet hours, a
# digest or the daily cap, and never escalated itself.
NOTICE_KIND = "delivery_failed"
TEMPLATE = "channel_unavailable"


def alert_step(unavailable: Unavailable, day: str) -> str:
    """The same for one breakdown on one local day."""
    return hashlib.sha256(f"{unavailable.cause_key}|{day}".encode()).hexdigest()[:16]


def record_channel_alert(
    engine: Engine,
    config: DeliveryConfig,
    channel: str,
    unavailable: Unavailable,
    day: str,
    stopped_key: str,
) -> list[str]:
    """Record the office's notices that `channel` is unavailable, naming the first message it
    stopped (`stopped_key`; of a digest, its first message); returns their keys, the same
    on every call of the day, so the caller's start sends each once."""
    step = alert_step(unavailable, day)
    with Session(engine) as session, session.begin():
        stopped = session.scalar(
            select(Notification).where(Notification.idempotency_key == stopped_key)
        )
        if stopped is None:
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
        directive, commune = places(session, stopped)
        rows: list[dict[str, Any]] = []
        deliveries: list[tuple[str, Person | None, str]] = []
        for person in office:
            key = f"notify:channel:{channel}:unavailable:{step}:{person.id}"
            message = config.renderer.render(
                TEMPLATE,
                "email",
                person.language,
                {
                    **message_context(stopped, directive, commune, person),
                    "channel": channel,
                    "cause": unavailable.cause,
                    "failed": {"subject": stopped.subject, "to": stopped.recipient},
                },
            )
            rows.append(
                {
                    "idempotency_key": key,
                    "directive_id": stopped.directive_id,
                    "case_id": stopped.case_id,
                    "commune_code": stopped.commune_code,
                    "kind": NOTICE_KIND,
                    "step": f"{channel}-unavailable-{step}",
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
