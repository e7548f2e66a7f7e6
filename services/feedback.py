"""Community feedback: store one as received (its workflow classifies and routes it), list and
read it, forward a misrouted one, the commune's answer, the citizen's rating, and the office's
choice to make a citizen's text public."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from config import Settings
from db.audit import audit_entry
from db.models import Dossier, Feedback
from db.queries import in_communes
from services.case_schemas import (
    FeedbackAnswer,
    FeedbackDetail,
    FeedbackForward,
    FeedbackList,
    FeedbackPublic,
)
from services.cases import (
    RECEIPT_ATTEMPTS,
    commune_of_province,
    feedback_events,
    send_step,
    start_case,
)
from services.errors import EngineUnavailable, NotFound, Refused
from services.idempotency import act_once
from services.principals import Principal, require_role
from services.receipts import new_receipt_code
from vocabulary.cases import CasePolicy, FeedbackStatus, feedback_workflow_id
from vocabulary.roles import Role
from workflows.feedback import FeedbackWorkflow
from workflows.procedure_types import AnswerInput, FeedbackInput, ForwardInput, RateInput


async def create_feedback(
    session: AsyncSession,
    description: str,
    address: str = "",
    service_code: str | None = None,
    commune_code: str | None = None,
    lat: str | None = None,
    long: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
) -> Feedback:
    """Store a feedback as received; its workflow classifies and routes it."""
    now = datetime.now(UTC)
    for _ in range(RECEIPT_ATTEMPTS):
        feedback = Feedback(
            receipt_code=new_receipt_code(),
            chosen_service_code=service_code,
            chosen_commune_code=commune_code,
            description=description,
            address=address,
            lat=lat,
            long=long,
            email=email,
            phone=phone,
            name=name,
            status=FeedbackStatus.RECEIVED.value,
            requested_at=now,
            updated_at=now,
        )
        session.add(feedback)
        try:
            await session.commit()
            return feedback
        except IntegrityError:
            await session.rollback()
    raise EngineUnavailable("could not store the feedback")


async def start_feedback(client: Client, settings: Settings, feedback: Feedback) -> None:
    await start_case(
        client,
        settings,
        FeedbackWorkflow.run,
        FeedbackInput(
            feedback_id=feedback.id,
            received_at=feedback.requested_at,
            policy=CasePolicy(),
            answer_within_working_days=settings.feedback_answer_working_days,
        ),
        feedback_workflow_id(feedback.id),
    )


async def load_feedback(session: AsyncSession, user: Principal, feedback_id: int) -> Feedback:
    """The feedback, if it exists and this user may see it. Not routed yet (no commune): only
    the province sees it."""
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None or not user.may_see(feedback.commune_code):
        raise NotFound(f"feedback {feedback_id} not found")
    return feedback


def feedback_public(f: Feedback) -> FeedbackPublic:
    return FeedbackPublic(
        id=f.id,
        workflow_id=feedback_workflow_id(f.id),
        service_code=f.service_code,
        commune_code=f.commune_code,
        routing_method=f.routing_method,
        description=f.description,
        address=f.address,
        status=f.status,
        requested_at=f.requested_at,
        answer_due_at=f.answer_due_at,
        answer=f.answer,
        answered_at=f.answered_at,
        answered_on_time=f.answered_on_time,
        escalation_level=f.escalation_level,
        rating=f.rating,
        forwarded=f.forwarded,
    )


def staff_public(feedback: Feedback) -> FeedbackPublic:
    """The staff representation, with the moment the office made the text public."""
    return feedback_public(feedback).model_copy(update={"public_at": feedback.public_at})


async def list_feedback(
    session: AsyncSession,
    settings: Settings,
    user: Principal,
    commune_code: str | None,
    status: FeedbackStatus | None,
    limit: int,
    offset: int,
) -> FeedbackList:
    """Feedback, newest first (a commune leader: what is routed to their commune)."""
    filters: list[Any] = []
    filters.extend(in_communes(Feedback.commune_code, user.communes_filter(commune_code)))
    if status is not None:
        filters.append(Feedback.status == status.value)
    total = await session.scalar(select(func.count(Feedback.id)).where(*filters))
    rows = await session.scalars(
        select(Feedback)
        .where(*filters)
        .order_by(Feedback.id.desc())
        .limit(min(limit, settings.max_page_size))
        .offset(offset)
    )
    return FeedbackList(data=[staff_public(f) for f in rows], count=int(total or 0))


async def read_feedback(session: AsyncSession, user: Principal, feedback_id: int) -> FeedbackDetail:
    feedback = await load_feedback(session, user, feedback_id)
    return FeedbackDetail(
        **staff_public(feedback).model_dump(),
        events=await feedback_events(session, feedback_id),
    )


async def _after_step(session: AsyncSession, feedback_id: int) -> FeedbackPublic:
    """The feedback as the workflow's step wrote it."""
    session.expire_all()
    found = await session.get(Feedback, feedback_id)
    assert found is not None
    return staff_public(found)


async def forward_feedback(
    session: AsyncSession,
    temporal: Client,
    user: Principal,
    feedback_id: int,
    payload: FeedbackForward,
    idempotency_key: str | None = None,
) -> FeedbackPublic:
    """Send a misrouted feedback to the commune it belongs to: the commune leader it was routed
    to, or the steering office (which also routes what nobody could place). With an
    idempotency key it is sent once, and a repeat gets the first answer."""
    require_role(user, Role.COMMUNE_LEADER, Role.STEERING_OFFICE)
    feedback = await load_feedback(session, user, feedback_id)
    await commune_of_province(session, payload.to_commune)
    from_commune = (
        user.commune_code if user.role == Role.COMMUNE_LEADER else feedback.commune_code
    ) or ""
    argument = ForwardInput(
        actor=user.actor,
        from_commune=from_commune,
        to_commune=payload.to_commune,
        reason=payload.reason,
    )
    return await _step_once(
        session, temporal, feedback_id, FeedbackWorkflow.forward, argument, idempotency_key
    )


async def answer_feedback(
    session: AsyncSession,
    temporal: Client,
    user: Principal,
    feedback_id: int,
    payload: FeedbackAnswer,
    idempotency_key: str | None = None,
) -> FeedbackPublic:
    """The commune's answer to the citizen (the leader of the commune it is routed to). With an
    idempotency key it is sent once, and a repeat gets the first answer."""
    require_role(user, Role.COMMUNE_LEADER)
    await load_feedback(session, user, feedback_id)
    # The workflow checks the leader's commune against its own, newest routing.
    argument = AnswerInput(
        actor=user.actor, commune_code=user.commune_code or "", text=payload.text
    )
    return await _step_once(
        session, temporal, feedback_id, FeedbackWorkflow.answer, argument, idempotency_key
    )


async def _step_once(
    session: AsyncSession,
    temporal: Client,
    feedback_id: int,
    update: Any,
    argument: object,
    idempotency_key: str | None,
) -> FeedbackPublic:
    """One update to the feedback's workflow, once per idempotency key; the answer is the
    feedback as the step wrote it."""
    workflow_id = feedback_workflow_id(feedback_id)

    async def send(update_id: str | None) -> FeedbackPublic:
        await session.commit()
        handle = temporal.get_workflow_handle(workflow_id)
        await send_step(
            handle.execute_update(update, argument, id=update_id), f"feedback {feedback_id}"
        )
        return await _after_step(session, feedback_id)

    return await act_once(
        session, workflow_id, update.__name__, idempotency_key, argument, FeedbackPublic, send
    )


async def rate_feedback(
    session: AsyncSession, temporal: Client, case: Dossier | Feedback, rating: int
) -> None:
    """The citizen's rating of the commune's answer to a feedback, 1 to 5, once."""
    if not isinstance(case, Feedback):
        raise Refused("only the answer to a feedback is rated")
    feedback = case
    await session.commit()
    handle = temporal.get_workflow_handle(feedback_workflow_id(feedback.id))
    await send_step(
        handle.execute_update(FeedbackWorkflow.rate, RateInput(rating=rating)), "the feedback"
    )
    session.expire_all()


async def set_public(
    session: AsyncSession, user: Principal, feedback_id: int, *, public: bool
) -> FeedbackPublic:
    """Show (or hide again) the citizen's description in the public reads; recorded in the
    audit log. Publishing again keeps the first moment."""
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFound(f"feedback {feedback_id} not found")
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
    return staff_public(feedback)
