"""Notices to the steering office about a message: recorded with their deliveries, started by
the caller. A dead letter, a channel that cannot send and a paused webhook subscription tell
the office this way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
    directive, commune = places(session, about)
    return notify_office(
        session,
        config,
        NoticeOf(
            NOTICE_KIND, template, step, about.directive_id, about.case_id, about.commune_code
        ),
        key_for,
        lambda person: {
            **message_context(about, directive, commune, person),
            "failed": {"subject": about.subject, "to": about.recipient},
            **context,
        },
    )


@dataclass(frozen=True)
class NoticeOf:
    """What a notice to the office is: its kind and template, its step (the business key it
    shares with its copies), and what it is about."""

    kind: str
    template: str
    step: str
    directive_id: int | None = None
    case_id: str | None = None
    commune_code: str = ""


def notify_office(
    session: Session,
    config: DeliveryConfig,
    notice: NoticeOf,
    key_for: Callable[[Person], str],
    context_for: Callable[[Person], dict[str, Any]],
) -> list[str]:
    """Record the notice for each of the office's people, rendered by email (the other
    channels render their own text at send); the keys of those recorded, the same on every
    call, so the caller's start sends each once."""
    office = session.scalars(
        select(Person)
        .join(RosterEntry, RosterEntry.person_id == Person.id)
        .where(
            RosterEntry.role == Role.STEERING_OFFICE.value,
            RosterEntry.scope == PROVINCE_SCOPE,
        )
        .order_by(Person.id)
    )
    rows: list[dict[str, Any]] = []
    deliveries: list[tuple[str, Person | None, str]] = []
    for person in office:
        key = key_for(person)
        message = config.renderer.render(
            notice.template, "email", person.language, context_for(person)
        )
        rows.append(
            {
                "idempotency_key": key,
                "directive_id": notice.directive_id,
                "case_id": notice.case_id,
                "commune_code": notice.commune_code,
                "kind": notice.kind,
                "step": notice.step,
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
