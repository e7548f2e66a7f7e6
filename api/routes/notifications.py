"""The messages the engine has recorded for each issue, reminder and escalation, and for each
dossier and feedback (`case_id`).

Messages to an applicant or a citizen carry their contact (as recipient and in the key), their
name and their receipt code (the key to the public status page): only the steering office
reads those; everyone else gets them withheld."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser
from services import notifications
from services.schemas import NotificationsPublic
from serving.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/notifications", tags=["notifications"])


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
    return await notifications.list_notifications(
        session, settings, user, directive_id, commune_code, kind, case_id, limit, offset
    )
