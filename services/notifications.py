"""The messages the engine has recorded for each issue, reminder and escalation, and for each
dossier and feedback (`case_id`). Messages to an applicant or a citizen carry their contact,
name and receipt code: only the steering office reads those; everyone else gets them withheld."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from db import queries
from db.models import Delivery, Notification
from services.errors import Invalid
from services.principals import Principal
from services.schemas import NotificationPublic, NotificationsPublic
from vocabulary.cases import APPLICANT, CaseNotificationKind
from vocabulary.directives import NotificationKind
from vocabulary.roles import Role

KINDS = [k.value for k in NotificationKind] + [k.value for k in CaseNotificationKind]


def _public(n: Notification, user_role: Role, delivery: Delivery | None) -> NotificationPublic:
    shown = NotificationPublic.model_validate(n, from_attributes=True)
    if delivery is not None:
        shown.delivery_state = delivery.state
        shown.delivery_attempts = delivery.attempts
        shown.delivery_channel = delivery.channel
        shown.delivery_detail = delivery.detail
    if n.recipient_role != APPLICANT or user_role == Role.STEERING_OFFICE:
        return shown
    # The key ends with the contact it was sent to: name the role instead.
    key = f"{n.idempotency_key.removesuffix(n.recipient)}{APPLICANT}"
    return shown.model_copy(
        update={
            "recipient": None,
            "idempotency_key": key,
            "subject": "",
            "body": "",
            "delivery_detail": "",
            "withheld": True,
        }
    )


async def list_notifications(
    session: AsyncSession,
    settings: Settings,
    user: Principal,
    directive_id: int | None,
    commune_code: str | None,
    kind: str | None,
    case_id: str | None,
    limit: int,
    offset: int,
) -> NotificationsPublic:
    if kind is not None and kind not in KINDS:
        raise Invalid(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    rows, total = await queries.list_notifications(
        session,
        directive_id,
        user.communes_filter(commune_code),
        kind,
        min(limit, settings.max_page_size),
        offset,
        case_id,
    )
    states = await queries.delivery_states(session, [n.idempotency_key for n in rows])
    return NotificationsPublic(
        data=[_public(n, user.role, states.get(n.idempotency_key)) for n in rows], count=total
    )
