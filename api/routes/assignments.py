"""A directive's assignments: the list, one commune's detail and timeline, and the actions of
the commune leader (acknowledge, report, ask for an extension) and of the steering office
(review, decide an extension). Every action is an update on the assignment's own workflow, and
takes an `Idempotency-Key`: a repeat with the same key gets the first answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.action_keys import ActionKey
from api.deps import AssigneeUser, CurrentUser, OfficeUser
from api.rate_limits import limit_acknowledgements
from services import assignments, directives
from services.assignments import AssignmentActions
from services.schemas import (
    AcknowledgeResult,
    AssignmentDetail,
    AssignmentPublic,
    AssignmentsPublic,
    ExtensionCreate,
    ExtensionDecision,
    ReportCreate,
    ReviewCreate,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep, ThreadSessionsDep
from vocabulary.directives import AssignmentStatus, Timeliness

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
    return await assignments.assignments_page(
        session,
        settings,
        None,
        user.communes_filter(commune_code),
        status,
        timeliness,
        limit,
        offset,
    )


# The answer is AssignmentsPublic's JSON written at once (services.schemas.assignments_json);
# `response_model` keeps it the operation's schema in the OpenAPI document.
@router.get("", response_model=AssignmentsPublic)
async def list_assignments(
    directive_id: int,
    user: CurrentUser,
    sessions: ThreadSessionsDep,
    settings: SettingsDep,
    status: AssignmentStatus | None = None,
    timeliness: Timeliness | None = None,
    limit: Annotated[int, Query(ge=1)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """One directive's assignments by commune (a leader: their own)."""
    body = await directives.directive_assignments_json(
        sessions, settings, user, directive_id, status, timeliness, limit, offset
    )
    return Response(body, media_type="application/json")


@router.get("/{commune_code}")
async def get_assignment(
    directive_id: int, commune_code: str, user: CurrentUser, session: SessionDep
) -> AssignmentDetail:
    return await assignments.assignment_detail(session, user, directive_id, commune_code)


async def assignment_actions(
    directive_id: int,
    commune_code: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    threads: ThreadSessionsDep,
    idempotency_key: ActionKey = None,
) -> AssignmentActions:
    return AssignmentActions(
        directive_id, commune_code, session, temporal, settings, idempotency_key, threads
    )


Actions = Annotated[AssignmentActions, Depends(assignment_actions)]


@router.post("/{commune_code}/acknowledge", dependencies=[Depends(limit_acknowledgements)])
async def acknowledge(user: AssigneeUser, actions: Actions) -> AcknowledgeResult:
    """Acknowledge receipt. Acknowledging again is harmless: the answer says it already was."""
    return await actions.acknowledge(user)


@router.post("/{commune_code}/report")
async def report(payload: ReportCreate, user: AssigneeUser, actions: Actions) -> AssignmentPublic:
    """Report completion with a summary and evidence (links or document references)."""
    return await actions.report(user, payload.summary, payload.evidence)


@router.post("/{commune_code}/review")
async def review(payload: ReviewCreate, user: OfficeUser, actions: Actions) -> AssignmentPublic:
    """Accept a report (done), or return it for rework with a comment."""
    return await actions.review(user, payload.decision == "accept", payload.comment)


@router.post("/{commune_code}/extension")
async def request_extension(
    payload: ExtensionCreate, user: AssigneeUser, actions: Actions
) -> AssignmentPublic:
    """Ask the steering office to move the deadline."""
    return await actions.request_extension(user, payload.until, payload.reason)


@router.post("/{commune_code}/extension/decision")
async def decide_extension(
    payload: ExtensionDecision, user: OfficeUser, actions: Actions
) -> AssignmentPublic:
    """Grant (moving the live deadline; the original stays on record) or refuse."""
    return await actions.decide_extension(
        user, payload.decision == "grant", payload.until, payload.comment
    )
