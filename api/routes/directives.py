"""Directives: issue, list, read, amend, recall."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from api.deps import CurrentUser, OfficeUser
from services import directives
from services.schemas import (
    DirectiveAmend,
    DirectiveCreate,
    DirectivePublic,
    DirectiveRecall,
    DirectivesPublic,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep, ThreadSessionsDep
from vocabulary.directives import DirectiveStatus

router = APIRouter(prefix="/directives", tags=["directives"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a request with the same key and get the same directive, never two",
    ),
]


@router.post("", status_code=status.HTTP_201_CREATED)
async def issue_directive(
    payload: DirectiveCreate,
    user: OfficeUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DirectivePublic:
    """Issue a directive to every commune (or the listed ones). The answer comes once the
    deadline is settled, or after a few seconds with status `issuing`."""
    directive, created = await directives.issue_directive(
        session, temporal, settings, payload, user, idempotency_key
    )
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return directive


@router.get("")
async def list_directives(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[DirectiveStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DirectivesPublic:
    return await directives.list_directives(session, settings, user, status_filter, limit, offset)


@router.get("/{directive_id}")
async def get_directive(
    directive_id: int, user: CurrentUser, sessions: ThreadSessionsDep
) -> DirectivePublic:
    return await directives.read_directive(sessions, user, directive_id)


@router.patch("/{directive_id}")
async def amend_directive(
    directive_id: int,
    payload: DirectiveAmend,
    user: OfficeUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> DirectivePublic:
    """Change the text or the deadline; every open assignment picks it up, and a change of
    text asks each commune to acknowledge again."""
    return await directives.amend_directive(session, temporal, user, directive_id, payload)


@router.post("/{directive_id}/recall")
async def recall_directive(
    directive_id: int,
    payload: DirectiveRecall,
    user: OfficeUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> DirectivePublic:
    """Cancel every open assignment of the directive."""
    return await directives.recall_directive(session, temporal, user, directive_id, payload.reason)
