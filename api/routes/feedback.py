"""Community feedback as the communes and the steering office handle it: the list, one
feedback with its timeline, forwarding a misrouted one, the commune's answer, and the office's
choice to make a citizen's text public in the Open311 reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import func, select

from api import procedure_services as services
from api.deps import CurrentUser, OfficeUser
from db.audit import audit_entry
from db.models import Feedback
from db.queries import in_communes
from services.case_schemas import (
    CaseEventPublic,
    FeedbackAnswer,
    FeedbackForward,
    FeedbackList,
    FeedbackPublic,
)
from services.principals import Principal
from serving.deps import SessionDep, SettingsDep, TemporalDep
from vocabulary.cases import FeedbackStatus, feedback_workflow_id
from vocabulary.roles import Role
from workflows.feedback import FeedbackWorkflow
from workflows.procedure_types import AnswerInput, ForwardInput

router = APIRouter(prefix="/feedback", tags=["feedback"])


class FeedbackDetail(FeedbackPublic):
    events: list[CaseEventPublic]


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
    filters: list[Any] = []
    filters.extend(in_communes(Feedback.commune_code, user.communes_filter(commune_code)))
    if status_filter is not None:
        filters.append(Feedback.status == status_filter.value)
    total = await session.scalar(select(func.count(Feedback.id)).where(*filters))
    rows = await session.scalars(
        select(Feedback)
        .where(*filters)
        .order_by(Feedback.id.desc())
        .limit(min(limit, settings.max_page_size))
        .offset(offset)
    )
    return FeedbackList(data=[_public(f) for f in rows], count=int(total or 0))


@router.get("/{feedback_id}")
async def get_feedback(feedback_id: int, user: CurrentUser, session: SessionDep) -> FeedbackDetail:
    feedback = await services.load_feedback(session, user, feedback_id)
    return FeedbackDetail(
        **_public(feedback).model_dump(),
        events=await services.feedback_events(session, feedback_id),
    )


@router.post("/{feedback_id}/forward")
async def forward(
    feedback_id: int,
    payload: FeedbackForward,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> FeedbackPublic:
    """Send a misrouted feedback to the commune it belongs to: the commune leader it was routed
    to, or the steering office (which also routes what nobody could place)."""
    if user.role not in (Role.COMMUNE_LEADER, Role.STEERING_OFFICE):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this action is for the role(s): commune_leader, steering_office",
        )
    feedback = await services.load_feedback(session, user, feedback_id)
    await services.commune_of_province(session, payload.to_commune)
    from_commune = (
        user.commune_code if user.role == Role.COMMUNE_LEADER else feedback.commune_code
    ) or ""
    await session.commit()
    handle = temporal.get_workflow_handle(feedback_workflow_id(feedback_id))
    await services.send_step(
        handle.execute_update(
            FeedbackWorkflow.forward,
            ForwardInput(
                actor=user.actor,
                from_commune=from_commune,
                to_commune=payload.to_commune,
                reason=payload.reason,
            ),
        ),
        f"feedback {feedback_id}",
    )
    session.expire_all()
    found = await session.get(Feedback, feedback_id)
    assert found is not None
    return _public(found)


@router.post("/{feedback_id}/answer")
async def answer(
    feedback_id: int,
    payload: FeedbackAnswer,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> FeedbackPublic:
    """The commune's answer to the citizen (the commune leader of the commune it is routed to)."""
    if user.role != Role.COMMUNE_LEADER:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this action is for the role(s): commune_leader"
        )
    await services.load_feedback(session, user, feedback_id)
    await session.commit()
    handle = temporal.get_workflow_handle(feedback_workflow_id(feedback_id))
    await services.send_step(
        handle.execute_update(
            FeedbackWorkflow.answer,
            # The workflow checks the leader's commune against its own, newest routing.
            AnswerInput(actor=user.actor, commune_code=user.commune_code or "", text=payload.text),
        ),
        f"feedback {feedback_id}",
    )
    session.expire_all()
    found = await session.get(Feedback, feedback_id)
    assert found is not None
    return _public(found)


def _public(feedback: Feedback) -> FeedbackPublic:
    """The staff representation with the moment the office made the text public."""
    return services.feedback_public(feedback).model_copy(update={"public_at": feedback.public_at})


async def _set_public(
    session: SessionDep, user: Principal, feedback_id: int, *, public: bool
) -> FeedbackPublic:
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"feedback {feedback_id} not found")
    if (feedback.public_at is not None) != public:
        # Only public_at is written: the workflow's read-model updates never touch it, so
        # neither overwrites the other.
        feedback.public_at = datetime.now(UTC) if public else None
        session.add(
            audit_entry(
                f"token:{user.token_id}",
                "feedback.published" if public else "feedback.unpublished",
                f"feedback:{feedback_id}",
                detail={"by": user.actor},
            )
        )
        await session.commit()
        await session.refresh(feedback)
    return _public(feedback)


@router.post("/{feedback_id}/publish")
async def publish(feedback_id: int, user: OfficeUser, session: SessionDep) -> FeedbackPublic:
    """Show the citizen's description in the public Open311 reads (`requests.json`,
    `requests/{id}.json`), once the office has read it for names, phone numbers and the like;
    the address and contact details stay private. The steering office only; publishing again
    keeps the first moment. Recorded in the audit log as `feedback.published`."""
    return await _set_public(session, user, feedback_id, public=True)


@router.post("/{feedback_id}/unpublish")
async def unpublish(feedback_id: int, user: OfficeUser, session: SessionDep) -> FeedbackPublic:
    """Take the citizen's description out of the public Open311 reads again. The steering
    office only; recorded in the audit log as `feedback.unpublished`."""
    return await _set_public(session, user, feedback_id, public=False)
