"""The message a send carries, composed from the read model: one notice (its recorded text, or
for SMS and ZNS its short rendering and its template's values), a directive's or a dossier's or
feedback's, or one person's digest of a night."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.channels.base import OutgoingMessage
from activities.rendering import Renderer, local_time
from activities.routing import SERVICES
from db.models import (
    Delivery,
    Directive,
    Dossier,
    Feedback,
    Notification,
    Person,
    Procedure,
)
from db.recipients import Recipient, recipient, recipient_names
from workflows.delivery_types import SendInput

SERVICE_NAMES = {s.code: s.name for s in SERVICES}
# A case id's prefix (`dossier-12`, `feedback-5`) and its resource in the API.
CASE_RESOURCES = {"dossier": "dossiers", "feedback": "feedback"}


def places(
    session: Session, notification: Notification
) -> tuple[Directive | None, Recipient | None]:
    """The notice's directive and commune (or agency); a dossier's or feedback's has no
    directive."""
    directive = (
        session.get(Directive, notification.directive_id)
        if notification.directive_id is not None
        else None
    )
    return directive, recipient(session, notification.commune_code)


def message_context(
    notification: Notification,
    directive: Directive | None,
    commune: Recipient | None,
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


def case_link(public_url: str, case_id: str) -> str:
    """Where a dossier's or feedback's message points, as its email does: the case in the API."""
    kind, _, number = case_id.partition("-")
    return f"{public_url.rstrip('/')}/api/v1/{CASE_RESOURCES[kind]}/{number}"


def compose_message(
    engine: Engine,
    renderer: Renderer,
    public_url: str,
    request: SendInput,
    idempotency_key: str,
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
        # A dossier's or feedback's message has no directive: its case says what it is about.
        directive, commune = places(session, notification)
        if notification.case_id is not None:
            link = case_link(public_url, notification.case_id)
            context, template_data = case_message(session, notification, commune, person, link)
        else:
            delivery = session.scalar(
                select(Delivery).where(Delivery.notification_key == request.notification_key)
            )
            link = delivery.link if delivery is not None else ""
            context, template_data = _directive_message(
                notification, directive, commune, person, link
            )
        subject, body = notification.subject, notification.body
        # SMS and ZNS carry the short text, rendered now: the recorded one has the form of the
        # person's first channel, which may be the email's. An office notice (about no
        # directive or case) keeps its recorded text.
        about = notification.directive_id is not None or notification.case_id is not None
        if request.channel != "email" and about:
            text = renderer.render(f"{notification.kind}", "sms", notification.language, context)
            body = text.body
        return OutgoingMessage(
            idempotency_key=idempotency_key,
            kind=notification.kind,
            subject=subject,
            body=body,
            email=person.email,
            phone=person.phone or "",
            template_data=template_data,
        )


def _directive_message(
    notification: Notification,
    directive: Directive | None,
    commune: Recipient | None,
    person: Person,
    link: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A directive's notice: its SMS template's context and its ZNS template's values."""
    deadline = directive.deadline if directive else None
    context = {
        **message_context(notification, directive, commune, person),
        "deadline": deadline,
        "link": link,
    }
    return context, {
        "ten_can_bo": person.name[:100],
        "don_vi": (commune.name if commune else "")[:100],
        "tieu_de": (directive.title if directive else "")[:100],
        "han_xu_ly": _zns_date(deadline),
        "lien_ket": link,
    }


def case_message(
    session: Session,
    notification: Notification,
    commune: Recipient | None,
    person: Person,
    link: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A dossier's or feedback's message to a person on the roster: its SMS template's context
    (the names the recorded message was rendered with: `receipt_code`, `dossier` or
    `feedback`, `commune`, `link`) and its ZNS template's values (the receipt code, the
    procedure or the feedback's service as the title, the due time, the link). Read when the
    message goes out, so a due time moved since it was recorded is the one it tells."""
    assert notification.case_id is not None
    case_kind, _, number = notification.case_id.partition("-")
    context: dict[str, Any] = {
        **message_context(notification, None, commune, person),
        "link": link,
    }
    case: Dossier | Feedback | None
    if case_kind == "dossier":
        case = session.get(Dossier, int(number))
        assert case is not None  # a case's message is recorded from its row
        procedure = session.get(Procedure, case.procedure_code)
        title = procedure.name if procedure else case.procedure_code
        due = case.due_at
        context["dossier"] = {
            "id": case.id,
            "procedure": title,
            "applicant": case.applicant_reference,
            "received_at": case.received_at,
            "due_at": due,
        }
    else:
        case = session.get(Feedback, int(number))
        assert case is not None
        title = SERVICE_NAMES.get(case.service_code or "", case.service_code or "")
        due = case.answer_due_at
        context["feedback"] = {
            "id": case.id,
            "service": title,
            "description": case.description,
            "answer_due_at": due,
        }
    context["receipt_code"] = case.receipt_code
    return context, {
        "ten_can_bo": person.name[:100],
        "don_vi": (commune.name if commune else "")[:100],
        "tieu_de": title[:100],
        "ma_ho_so": case.receipt_code,
        "han_xu_ly": _zns_date(due),
        "lien_ket": link,
    }


def _zns_date(moment: datetime | None) -> str:
    """dd/mm/yyyy in Vietnam time: the form of a ZNS `date` parameter."""
    return local_time(moment, "vi")[-10:] if moment else ""


def _digest(
    session: Session,
    renderer: Renderer,
    request: SendInput,
    person: Person,
    idempotency_key: str,
) -> OutgoingMessage:
    names = recipient_names()
    found = session.execute(
        select(Notification, Delivery.link, Directive.title, Directive.deadline, names.c.name)
        .join(Delivery, Delivery.notification_key == Notification.idempotency_key)
        .join(Directive, Directive.id == Notification.directive_id)
        .join(names, names.c.code == Notification.commune_code)
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
