"""Community feedback as the communes and the steering office handle it: the list, one
feedback with its timeline, forwarding a misrouted one, the commune's answer, and the office's
choice to make a citizen's text public in the Open311 reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.action_keys import ActionKey
from api.deps import CurrentUser, OfficeUser
from services import feedback
from services.case_schemas import (
    FeedbackAnswer,
    FeedbackDetail,
    FeedbackForward,
    FeedbackList,
    FeedbackPublic,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep
from vocabulary.cases import FeedbackStatus

router = APIRouter(prefix="/feedback", tags=["feedback"])


@router.get("")
async def list_feedback(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    commune_code: str | None = None,
    status_filter: Annotated[FeedbackStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FeedbackList:
    """Feedback, newest first (a commune leader: what is routed to their commune)."""
    return await feedback.list_feedback(
        session, settings, user, commune_code, status_filter, limit, offset
    )


@router.get("/{feedback_id}")
async def get_feedback(feedback_id: int, user: CurrentUser, session: SessionDep) -> FeedbackDetail:
    return await feedback.read_feedback(session, user, feedback_id)


@router.post("/{feedback_id}/forward")
async def forward(
    feedback_id: int,
    payload: FeedbackForward,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> FeedbackPublic:
    """Send a misrouted feedback to the commune it belongs to: the commune leader it was routed
    to, or the steering office (which also routes what nobody could place)."""
    return await feedback.forward_feedback(
        session, temporal, user, feedback_id, payload, idempotency_key
    )


@router.post("/{feedback_id}/answer")
async def answer(
    feedback_id: int,
    payload: FeedbackAnswer,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: ActionKey = None,
) -> FeedbackPublic:
    """The commune's answer to the citizen (the commune leader of the commune it is routed to)."""
    return await feedback.answer_feedback(
        session, temporal, user, feedback_id, payload, idempotency_key
    )


@router.post("/{feedback_id}/publish")
async def publish(feedback_id: int, user: OfficeUser, session: SessionDep) -> FeedbackPublic:
    """Show the citizen's description in the public Open311 reads (`requests.json`,
    `requests/{id}.json`), once the office has read it for names, phone numbers and the like;
    the address and contact details stay private. The steering office only; publishing again
    keeps the first moment. Recorded in the audit log as `feedback.published`."""
    return await feedback.set_public(session, user, feedback_id, public=True)


@router.post("/{feedback_id}/unpublish")
async def unpublish(feedback_id: int, user: OfficeUser, session: SessionDep) -> FeedbackPublic:
    """Take the citizen's description out of the public Open311 reads again. The steering
    office only; recorded in the audit log as `feedback.unpublished`."""
    return await feedback.set_public(session, user, feedback_id, public=False)
