"""The messages the engine has recorded for each issue, reminder and escalation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.schemas import NotificationPublic, NotificationsPublic
from db import queries
from workflows.types import NotificationKind

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("")
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    directive_id: int | None = None,
    commune_code: str | None = None,
    kind: NotificationKind | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> NotificationsPublic:
    rows, total = await queries.list_notifications(
        session,
        directive_id,
        user.commune_filter(commune_code),
        kind.value if kind else None,
        min(limit, settings.max_page_size),
        offset,
    )
    states = await queries.delivery_states(session, [n.idempotency_key for n in rows])
    data = []
    for n in rows:
        public = NotificationPublic.model_validate(n, from_attributes=True)
        state = states.get(n.idempotency_key)
        if state is not None:
            public.delivery_state = state.state
            public.delivery_attempts = state.attempts
            public.delivery_channel = state.channel
            public.delivery_detail = state.detail
        data.append(public)
    return NotificationsPublic(data=data, count=total)
