"""The messages the engine has recorded for each issue, reminder and escalation, and for each
dossier and feedback (`case_id`).

Messages to an applicant or a citizen carry their contact (as recipient and in the key), their
name and their receipt code (the key to the public status page): only the steering office
reads those; everyone else gets them withheld."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import CurrentUser
from db import queries
from db.models import Delivery, Notification
from services.schemas import NotificationPublic, NotificationsPublic
from serving.deps import SessionDep, SettingsDep
from vocabulary.cases import APPLICANT, CaseNotificationKind
from vocabulary.directives import NotificationKind
from vocabulary.roles import Role

router = APIRouter(prefix="/notifications", tags=["notifications"])

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


@router.get("")
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    directive_id: int | None = None,
    commune_code: str | None = None,
    kind: str | None = None,
    case_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> NotificationsPublic:
    if kind is not None and kind not in KINDS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown kind {kind!r} (known: {', '.join(KINDS)})",
        )
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
