"""Directives: issue, list, read, amend, recall."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status

from api import services
from api.deps import CurrentUser, OfficeUser
from db import queries
from services.schemas import (
    DirectiveAmend,
    DirectiveCreate,
    DirectivePublic,
    DirectiveRecall,
    DirectivesPublic,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep
from vocabulary.directives import DirectiveStatus, directive_workflow_id
from workflows.directive import DirectiveWorkflow
from workflows.types import AmendDirectiveInput, RecallDirectiveInput

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
    directive, created = await services.create_directive(session, payload, user, idempotency_key)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    await services.release_connection(session)
    await services.start_directive(temporal, settings, directive)
    if directive.status == DirectiveStatus.ISSUING:
        await services.wait_for_plan(temporal, directive.id, settings.issue_wait_seconds)
        await session.refresh(directive)
    return await services.directive_public(session, directive)


@router.get("")
async def list_directives(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[DirectiveStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DirectivesPublic:
    scope = user.commune_filter()
    rows, total = await queries.list_directives(
        session,
        scope,
        status_filter.value if status_filter else None,
        min(limit, settings.max_page_size),
        offset,
    )
    counts = await queries.assignment_counts(session, [d.id for d in rows], scope)
    return DirectivesPublic(
        data=[services.to_directive_public(d, counts[d.id]) for d in rows], count=total
    )


@router.get("/{directive_id}")
async def get_directive(
    directive_id: int, user: CurrentUser, session: SessionDep
) -> DirectivePublic:
    directive = await services.load_directive(session, user, directive_id)
    return await services.directive_public(session, directive, user.commune_filter())


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
    directive = await services.load_directive(session, user, directive_id)
    if payload.deadline is not None and payload.deadline <= datetime.now(UTC):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the deadline is in the past")
    await services.release_connection(session)
    handle = temporal.get_workflow_handle(directive_workflow_id(directive_id))
    await services.run_directive_update(
        handle.execute_update(
            DirectiveWorkflow.amend,
            AmendDirectiveInput(
                actor=user.actor, title=payload.title, body=payload.body, deadline=payload.deadline
            ),
        ),
        directive,
    )
    await session.refresh(directive)
    return await services.directive_public(session, directive)


@router.post("/{directive_id}/recall")
async def recall_directive(
    directive_id: int,
    payload: DirectiveRecall,
    user: OfficeUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> DirectivePublic:
    """Cancel every open assignment of the directive."""
    directive = await services.load_directive(session, user, directive_id)
    await services.release_connection(session)
    handle = temporal.get_workflow_handle(directive_workflow_id(directive_id))
    await services.run_directive_update(
        handle.execute_update(
            DirectiveWorkflow.recall, RecallDirectiveInput(actor=user.actor, reason=payload.reason)
        ),
        directive,
    )
    await session.refresh(directive)
    return await services.directive_public(session, directive)
