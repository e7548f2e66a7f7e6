"""The message a send carries, composed from the read model: one notice (its recorded text, or
for SMS and ZNS its short rendering) or one person's digest of a night."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.channels.base import OutgoingMessage
from activities.rendering import Renderer, local_time
from db.models import Commune, Delivery, Directive, Notification, Person
from workflows.delivery_types import SendInput


def places(session: Session, notification: Notification) -> tuple[Directive | None, Commune | None]:
    """The notice's directive and commune; a dossier's or feedback's has no directive."""
    directive = (
        session.get(Directive, notification.directive_id)
        if notification.directive_id is not None
        else None
    )
    return directive, session.get(Commune, notification.commune_code)


def message_context(
    notification: Notification,
    directive: Directive | None,
    commune: Commune | None,
    person: Person,
) -> dict[str, Any]:
    """What every notice's template is told of its directive, commune and recipient."""
    return {
        "directive": {
            "id": notification.directive_id,
            "title": directive.title if directive else "",
        },
        "commune": {
            "code": notification.commune_code,
            "name": commune.name if commune else "",
        },
        "recipient": {"name": person.name},
    }


def compose_message(
    engine: Engine, renderer: Renderer, request: SendInput, idempotency_key: str
) -> OutgoingMessage:
    with Session(engine) as session:
        person = session.get(Person, request.person_id)
        assert person is not None  # deliveries reference their person
        if request.digest_items:
            return _digest(session, renderer, request, person, idempotency_key)
        notification = session.scalar(
            select(Notification).where(Notification.idempotency_key == request.notification_key)
        )
        assert notification is not None  # a delivery starts from a recorded message
        delivery = session.scalar(
            select(Delivery).where(Delivery.notification_key == request.notification_key)
        )
        # A dossier's or feedback's message has no directive (and goes by email only).
        directive, commune = places(session, notification)
        link = delivery.link if delivery is not None and delivery.link else ""
        context = {
            **message_context(notification, directive, commune, person),
            "deadline": directive.deadline if directive else None,
            "link": link,
        }
        subject, body = notification.subject, notification.body
        if request.channel != "email" and notification.directive_id is not None:
            text = renderer.render(f"{notification.kind}", "sms", notification.language, context)
            body = text.body
        deadline = directive.deadline if directive else None
        return OutgoingMessage(
            idempotency_key=idempotency_key,
            kind=notification.kind,
            subject=subject,
            body=body,
            email=person.email,
            phone=person.phone or "",
            template_data={
                "ten_can_bo": person.name[:100],
                "don_vi": (commune.name if commune else "")[:100],
                "tieu_de": (directive.title if directive else "")[:100],
                "han_xu_ly": local_time(deadline, "vi")[-10:] if deadline else "",
                "lien_ket": link,
            },
        )


def _digest(
    session: Session,
    renderer: Renderer,
    request: SendInput,
    person: Person,
    idempotency_key: str,
) -> OutgoingMessage:
    found = session.execute(
        select(Notification, Delivery.link, Directive.title, Directive.deadline, Commune.name)
        .join(Delivery, Delivery.notification_key == Notification.idempotency_key)
        .join(Directive, Directive.id == Notification.directive_id)
        .join(Commune, Commune.code == Notification.commune_code)
        .where(Notification.idempotency_key.in_(request.digest_items))
        .order_by(Notification.id)
    ).all()
    items = [
        {
            "kind": n.kind,
            "subject": n.subject,
            "title": title,
            "deadline": deadline,
            "commune": commune,
            "link": link,
        }
        for n, link, title, deadline, commune in found
    ]
    channel = "email" if request.channel == "email" else "sms"
    text = renderer.render(
        "digest",
        channel,
        person.language,
        {"recipient": {"name": person.name}, "items": items, "count": len(items)},
    )
    return OutgoingMessage(
        idempotency_key=idempotency_key,
        kind="digest",
        subject=text.subject,
        body=text.body,
        email=person.email,
        phone=person.phone or "",
        template_data={"ten_can_bo": person.name[:100], "so_viec": str(len(items))},
    )
