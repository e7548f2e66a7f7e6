"""Recurring directives: the office's routes to create, list, pause, resume and delete them,
and the commune leader's report of an activity (the use cases: services/recurring.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from api.deps import CurrentUser, LeaderUser, OfficeUser
from services import recurring
from services.recurring import (
    ActivityReport,
    ObligationPeriodPublic,
    RecurringDirectiveCreate,
    RecurringDirectivePublic,
    RecurringDirectivesPublic,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep

router = APIRouter(prefix="/recurring-directives", tags=["recurring directives"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a request with the same key and get the same recurring directive, "
        "never two",
    ),
]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_recurring_directive(
    body: RecurringDirectiveCreate,
    user: OfficeUser,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RecurringDirectivePublic:
    """A weekly obligation for every commune (or a list): a Temporal Schedule opens each
    week's period on Monday 00:00, Asia/Ho_Chi_Minh. 503 when the workflow engine does not
    answer: repeat the request with the same Idempotency-Key."""
    made, created = await recurring.create_recurring_directive(
        session, client, settings, user, body, idempotency_key
    )
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return made


@router.get("")
async def list_recurring_directives(
    user: CurrentUser, session: SessionDep
) -> RecurringDirectivesPublic:
    return await recurring.list_recurring_directives(session)


@router.get("/{recurring_id}")
async def get_recurring_directive(
    recurring_id: int, user: CurrentUser, session: SessionDep
) -> RecurringDirectivePublic:
    return await recurring.read_recurring_directive(session, recurring_id)


@router.post("/{recurring_id}/pause")
async def pause_recurring_directive(
    recurring_id: int, user: OfficeUser, session: SessionDep, client: TemporalDep
) -> RecurringDirectivePublic:
    """No new period opens until it is resumed; the period open now runs to its end."""
    return await recurring.set_paused(session, client, recurring_id, True, user.actor)


@router.post("/{recurring_id}/resume")
async def resume_recurring_directive(
    recurring_id: int, user: OfficeUser, session: SessionDep, client: TemporalDep
) -> RecurringDirectivePublic:
    return await recurring.set_paused(session, client, recurring_id, False, user.actor)


@router.delete("/{recurring_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_recurring_directive(
    recurring_id: int, user: OfficeUser, session: SessionDep, client: TemporalDep
) -> None:
    """The schedule is deleted; periods already closed stay on record for scoring."""
    await recurring.delete_recurring_directive(session, client, recurring_id)


@router.post("/{recurring_id}/activities", status_code=status.HTTP_201_CREATED)
async def report_obligation_activity(
    recurring_id: int, body: ActivityReport, user: LeaderUser, session: SessionDep
) -> ObligationPeriodPublic:
    """A commune leader reports one activity (title, date, link) for their own commune's
    open period. Sending the same report again stores it once."""
    return await recurring.report_obligation_activity(session, user, recurring_id, body)


@router.get("/{recurring_id}/periods")
async def list_obligation_periods(
    recurring_id: int,
    user: CurrentUser,
    session: SessionDep,
    commune_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ObligationPeriodPublic]:
    """Periods newest first, per commune (a leader: their own)."""
    return await recurring.list_obligation_periods(session, user, recurring_id, commune_code, limit)
