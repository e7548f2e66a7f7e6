"""A directive's assignments: the list, one commune's detail and timeline, and the actions of
the commune leader (acknowledge, report, ask for an extension) and of the steering office
(review, decide an extension). Every action is an update on the assignment's own workflow."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api import services
from api.deps import CurrentUser, LeaderUser, OfficeUser, check_commune_scope
from api.rate_limits import limit_acknowledgements
from db import queries
from services.principals import Principal
from services.schemas import (
    AcknowledgeResult,
    AssignmentDetail,
    AssignmentEventPublic,
    AssignmentPublic,
    AssignmentsPublic,
    ExtensionCreate,
    ExtensionDecision,
    ReportCreate,
    ReviewCreate,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep
from vocabulary.directives import AssignmentStatus, Timeliness
from workflows.assignment import AssignmentWorkflow
from workflows.types import (
    AcknowledgeInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    ReportInput,
    ReviewInput,
)

router = APIRouter(prefix="/directives/{directive_id}/assignments", tags=["assignments"])
inbox = APIRouter(prefix="/assignments", tags=["assignments"])


@inbox.get("")
async def list_assignments_across_directives(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    commune_code: str | None = None,
    status: AssignmentStatus | None = None,
    timeliness: Timeliness | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AssignmentsPublic:
    """Every assignment of a commune across directives, newest deadline first: a commune
    leader's task list (their own commune only), or the office's view of one commune."""
    return await services.assignments_page(
        session,
        settings,
        None,
        user.communes_filter(commune_code),
        status,
        timeliness,
        limit,
        offset,
    )


@router.get("")
async def list_assignments(
    directive_id: int,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    status: AssignmentStatus | None = None,
    timeliness: Timeliness | None = None,
    limit: Annotated[int, Query(ge=1)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AssignmentsPublic:
    """One directive's assignments by commune (a leader: their own)."""
    await services.load_directive(session, user, directive_id)
    return await services.assignments_page(
        session, settings, directive_id, user.communes_filter(), status, timeliness, limit, offset
    )


@router.get("/{commune_code}")
async def get_assignment(
    directive_id: int, commune_code: str, user: CurrentUser, session: SessionDep
) -> AssignmentDetail:
    check_commune_scope(
        user, commune_code, services.assignment_not_found(directive_id, commune_code)
    )
    await services.load_directive(session, user, directive_id)
    assignment, name = await services.load_assignment(session, directive_id, commune_code)
    events = await queries.assignment_events(session, directive_id, commune_code)
    return AssignmentDetail(
        **services.to_assignment_public(assignment, name).model_dump(),
        events=[
            AssignmentEventPublic(seq=e.seq, kind=e.kind, at=e.at, actor=e.actor, detail=e.detail)
            for e in events
        ],
    )


class AssignmentActions:
    """One commune's assignment, ready to receive an action: `actions.send(update, input)`."""

    def __init__(
        self,
        directive_id: int,
        commune_code: str,
        session: SessionDep,
        temporal: TemporalDep,
        settings: SettingsDep,
    ) -> None:
        self.directive_id = directive_id
        self.commune_code = commune_code
        self.session = session
        self.temporal = temporal
        self.settings = settings

    def check_scope(self, user: Principal) -> None:
        """Another commune's assignment answers as a missing one."""
        check_commune_scope(
            user,
            self.commune_code,
            services.assignment_not_found(self.directive_id, self.commune_code),
        )

    async def send(self, update: Any, argument: object) -> AssignmentPublic:
        return await services.update_assignment(
            self.session,
            self.temporal,
            self.settings,
            self.directive_id,
            self.commune_code,
            update,
            argument,
        )


Actions = Annotated[AssignmentActions, Depends()]


@router.post("/{commune_code}/acknowledge", dependencies=[Depends(limit_acknowledgements)])
async def acknowledge(user: LeaderUser, actions: Actions) -> AcknowledgeResult:
    """Acknowledge receipt. Acknowledging again is harmless: the answer says it already was."""
    actions.check_scope(user)
    try:
        current = await actions.send(AssignmentWorkflow.acknowledge, AcknowledgeInput(user.actor))
    except services.AlreadyAcknowledged as repeat:
        # A click racing the first one: the read model may not show that one yet; the
        # workflow's state, sent with its refusal, does.
        stored = await services.current_assignment(
            actions.session, actions.directive_id, actions.commune_code
        )
        current = services.overlay_state(stored, repeat.state)
        return AcknowledgeResult(**current.model_dump(), already_acknowledged=True)
    return AcknowledgeResult(**current.model_dump(), already_acknowledged=False)


@router.post("/{commune_code}/report")
async def report(payload: ReportCreate, user: LeaderUser, actions: Actions) -> AssignmentPublic:
    """Report completion with a summary and evidence (links or document references)."""
    actions.check_scope(user)
    return await actions.send(
        AssignmentWorkflow.report,
        ReportInput(actor=user.actor, summary=payload.summary, evidence=payload.evidence),
    )


@router.post("/{commune_code}/review")
async def review(payload: ReviewCreate, user: OfficeUser, actions: Actions) -> AssignmentPublic:
    """Accept a report (done), or return it for rework with a comment."""
    return await actions.send(
        AssignmentWorkflow.review,
        ReviewInput(actor=user.actor, accept=payload.decision == "accept", comment=payload.comment),
    )


@router.post("/{commune_code}/extension")
async def request_extension(
    payload: ExtensionCreate, user: LeaderUser, actions: Actions
) -> AssignmentPublic:
    """Ask the steering office to move the deadline."""
    actions.check_scope(user)
    return await actions.send(
        AssignmentWorkflow.request_extension,
        ExtensionRequestInput(actor=user.actor, until=payload.until, reason=payload.reason),
    )


@router.post("/{commune_code}/extension/decision")
async def decide_extension(
    payload: ExtensionDecision, user: OfficeUser, actions: Actions
) -> AssignmentPublic:
    """Grant (moving the live deadline; the original stays on record) or refuse."""
    return await actions.send(
        AssignmentWorkflow.decide_extension,
        ExtensionDecisionInput(
            actor=user.actor,
            grant=payload.decision == "grant",
            until=payload.until,
            comment=payload.comment,
        ),
    )
