"""What the routes do beyond validation: turn an API request into a workflow message, and a
workflow's answer (or refusal) into an HTTP answer."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import HTTPException, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.fanout import assignment_start_options
from config import Settings
from db import queries
from db.communes import DAK_LAK
from db.models import (
    Assignment,
    Commune,
    Directive,
    assignment_columns,
    policy_from_json,
    policy_to_json,
)
from services.durations import parse_duration
from services.principals import Principal
from services.schemas import (
    AssignmentPublic,
    AssignmentsPublic,
    Counts,
    DirectiveCreate,
    DirectivePublic,
    policy_out,
)
from vocabulary.directives import (
    CLOSED_STATUSES,
    AssignmentState,
    AssignmentStatus,
    DirectivePolicy,
    DirectiveStatus,
    EscalationStep,
    Timeliness,
    assignment_workflow_id,
    directive_workflow_id,
)
from vocabulary.refusals import ALREADY_ACKNOWLEDGED
from vocabulary.roles import Role
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DIRECTIVE_TASK_TIMEOUT, DirectiveWorkflow
from workflows.types import (
    DirectivePlan,
    IssueDirectiveInput,
    StartAssignmentsInput,
    assignment_input,
)

T = TypeVar("T")


class AlreadyAcknowledged(Exception):
    """A repeat acknowledgement, with the workflow's state as it refused it."""

    def __init__(self, state: AssignmentState | None) -> None:
        super().__init__("already acknowledged")
        self.state = state


def policy_from(payload: DirectiveCreate) -> DirectivePolicy:
    return DirectivePolicy(
        reminder_offsets_seconds=[parse_duration(v, signed=True) for v in payload.reminder_offsets],
        escalation=[
            EscalationStep(after_seconds=parse_duration(step.after), to=Role(step.to))
            for step in payload.escalation
        ],
        acknowledge_within_seconds=(
            parse_duration(payload.acknowledge_within) if payload.acknowledge_within else None
        ),
    )


def issue_input(directive: Directive) -> IssueDirectiveInput:
    """The one place a stored directive becomes the workflow's input."""
    return IssueDirectiveInput(
        directive_id=directive.id,
        communes=list(directive.communes),
        issued_at=directive.issued_at,
        policy=policy_from_json(directive.policy),
        deadline=directive.deadline if directive.due_in_working_days is None else None,
        due_in_working_days=directive.due_in_working_days,
    )


async def create_directive(
    session: AsyncSession,
    payload: DirectiveCreate,
    user: Principal,
    idempotency_key: str | None,
) -> tuple[Directive, bool]:
    """Store the directive (status `issuing`); with an idempotency key already used, return
    the directive it created instead. Returns (directive, created)."""
    fingerprint = hashlib.sha256(payload.model_dump_json().encode()).hexdigest()
    if idempotency_key is not None:
        existing = await session.scalar(
            select(Directive).where(Directive.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return _replayed(existing, fingerprint), False
    province = str(DAK_LAK)
    known = set(
        await session.scalars(select(Commune.code).where(Commune.province_code == province))
    )
    if payload.communes is None:
        communes = sorted(known)
    else:
        unknown = sorted(set(payload.communes) - known)
        if unknown:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"unknown commune codes: {', '.join(unknown[:20])}",
            )
        communes = sorted(payload.communes)
    now = datetime.now(UTC)
    if payload.deadline is not None and payload.deadline <= now:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the deadline is in the past")
    directive = Directive(
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint if idempotency_key else None,
        title=payload.title,
        body=payload.body,
        status=DirectiveStatus.ISSUING.value,
        revision=1,
        issued_at=now,
        issued_by=user.actor,
        deadline=payload.deadline,
        due_in_working_days=payload.due_in_working_days,
        communes=communes,
        policy=policy_to_json(policy_from(payload)),
        updated_at=now,
    )
    session.add(directive)
    try:
        await session.commit()
    except IntegrityError:
        # Another request with the same idempotency key won the race: answer with its directive.
        await session.rollback()
        existing = await session.scalar(
            select(Directive).where(Directive.idempotency_key == idempotency_key)
        )
        if existing is None:
            raise
        return _replayed(existing, fingerprint), False
    return directive, True


def _replayed(directive: Directive, fingerprint: str) -> Directive:
    if directive.request_fingerprint != fingerprint:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "this Idempotency-Key was used for a different request: use a new key for a new"
            " directive",
        )
    return directive


async def start_directive(client: Client, settings: Settings, directive: Directive) -> None:
    """Start (or find running) the directive's workflow; safe to call any number of times."""
    try:
        await client.start_workflow(
            DirectiveWorkflow.run,
            issue_input(directive),
            id=directive_workflow_id(directive.id),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            task_timeout=DIRECTIVE_TASK_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        # Finished already (closed or recalled): nothing to start.
        return
    except RPCError as e:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the directive is stored as {directive.id} but could not be started yet ({e.message});"
            " repeat the request with the same Idempotency-Key to start it",
        ) from e


async def wait_for_plan(client: Client, directive_id: int, seconds: float) -> None:
    """Give the workflow a moment to settle the deadline so the answer can show it."""
    handle = client.get_workflow_handle(directive_workflow_id(directive_id))
    try:
        await asyncio.wait_for(handle.execute_update(DirectiveWorkflow.wait_for_plan), seconds)
    except (
        TimeoutError,
        RPCError,
        WorkflowUpdateFailedError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
    ):
        # The answer then shows the directive as `issuing`, without its computed deadline yet.
        pass


async def directive_public(
    session: AsyncSession, directive: Directive, commune_code: str | None = None
) -> DirectivePublic:
    counts = await queries.assignment_counts(session, [directive.id], commune_code)
    return to_directive_public(directive, counts[directive.id])


def to_directive_public(directive: Directive, counts: dict[str, Any]) -> DirectivePublic:
    return DirectivePublic(
        id=directive.id,
        workflow_id=directive_workflow_id(directive.id),
        title=directive.title,
        body=directive.body,
        status=directive.status,
        revision=directive.revision,
        issued_at=directive.issued_at,
        issued_by=directive.issued_by,
        deadline=directive.deadline,
        due_in_working_days=directive.due_in_working_days,
        acknowledge_by=directive.acknowledge_by,
        communes_count=len(directive.communes),
        counts=Counts(**counts),
        **policy_out(policy_from_json(directive.policy)),
    )


async def assignments_page(
    session: AsyncSession,
    settings: Settings,
    directive_id: int | None,
    commune_code: queries.CommuneScope,
    status: AssignmentStatus | None,
    timeliness: Timeliness | None,
    limit: int,
    offset: int,
) -> AssignmentsPublic:
    rows, total = await queries.list_assignments(
        session,
        directive_id,
        commune_code,
        status.value if status else None,
        timeliness.value if timeliness else None,
        min(limit, settings.max_page_size),
        offset,
    )
    return AssignmentsPublic(data=[to_assignment_public(a, name) for a, name in rows], count=total)


def to_assignment_public(assignment: Assignment, commune_name: str) -> AssignmentPublic:
    return AssignmentPublic(
        directive_id=assignment.directive_id,
        workflow_id=assignment_workflow_id(assignment.directive_id, assignment.commune_code),
        commune_code=assignment.commune_code,
        commune_name=commune_name,
        status=assignment.status,
        timeliness=assignment.timeliness,
        deadline=assignment.deadline,
        original_deadline=assignment.original_deadline,
        acknowledge_by=assignment.acknowledge_by,
        acknowledged_at=assignment.acknowledged_at,
        reported_at=assignment.reported_at,
        completed_at=assignment.completed_at,
        escalation_level=assignment.escalation_level,
        revision=assignment.revision,
        acknowledged_revision=assignment.acknowledged_revision,
        needs_acknowledgement=assignment.status not in CLOSED_STATUSES
        and assignment.acknowledged_revision < assignment.revision,
        extension_requested_until=assignment.extension_requested_until,
        report_summary=assignment.report_summary,
        report_evidence=assignment.report_evidence,
        review_comment=assignment.review_comment,
        updated_at=assignment.updated_at,
    )


def overlay_state(public: AssignmentPublic, state: AssignmentState | None) -> AssignmentPublic:
    """The read model's row brought up to the workflow's own, possibly newer, state."""
    if state is None or state.seq <= 0:
        return public
    columns = assignment_columns(state)
    del columns["seq"]
    needs_acknowledgement = (
        state.status not in CLOSED_STATUSES and state.acknowledged_revision < state.revision
    )
    return public.model_copy(update={**columns, "needs_acknowledgement": needs_acknowledgement})


async def load_directive(session: AsyncSession, user: Principal, directive_id: int) -> Directive:
    """The directive, if it exists and this user may see it (a leader: only if addressed)."""
    directive = await session.get(Directive, directive_id)
    if directive is None or (
        user.role == Role.COMMUNE_LEADER and user.commune_code not in directive.communes
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"directive {directive_id} not found")
    return directive


async def load_assignment(
    session: AsyncSession, directive_id: int, commune_code: str
) -> tuple[Assignment, str]:
    found = await queries.get_assignment(session, directive_id, commune_code)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, assignment_not_found(directive_id, commune_code)
        )
    return found


def assignment_not_found(directive_id: int, commune_code: str) -> str:
    """What a missing assignment and another commune's answer alike."""
    return f"directive {directive_id} has no assignment for commune {commune_code}"


async def release_connection(session: AsyncSession) -> None:
    """End the session's read transaction so its connection goes back to the pool while the
    request waits on Temporal: a burst of slow updates must not hold every connection."""
    await session.commit()


async def current_assignment(
    session: AsyncSession, directive_id: int, commune_code: str
) -> AssignmentPublic:
    """The assignment as the read model has it now (after an update wrote it)."""
    session.expire_all()
    assignment, name = await load_assignment(session, directive_id, commune_code)
    return to_assignment_public(assignment, name)


async def update_assignment(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    directive_id: int,
    commune_code: str,
    update: Any,
    argument: object,
) -> AssignmentPublic:
    """Send one update to the assignment's own workflow and answer with the state it recorded:
    the update returns only after its read-model write.

    An answer can arrive before the fan-out has started this commune's workflow (a leader who
    clicks within a second, or one of 3,321 communes): update-with-start then starts it with
    the input the fan-out would give it, and the fan-out finds it running."""
    await load_assignment(session, directive_id, commune_code)
    directive = await session.get(Directive, directive_id)
    assert directive is not None  # the assignment exists, so does its directive
    if directive.deadline is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the directive is still being issued; try again shortly"
        )
    start = StartAssignmentsInput(
        plan=DirectivePlan(
            directive_id=directive.id,
            deadline=directive.deadline,
            acknowledge_by=directive.acknowledge_by,
            communes=list(directive.communes),
        ),
        policy=policy_from_json(directive.policy),
        issued_at=directive.issued_at,
        task_queue=settings.task_queue,
    )
    operation = WithStartWorkflowOperation(
        AssignmentWorkflow.run,
        assignment_input(start, commune_code),
        **assignment_start_options(start, commune_code),
    )
    await release_connection(session)
    await run_update(
        temporal.execute_update_with_start_workflow(
            update, argument, start_workflow_operation=operation
        ),
        session,
        directive_id,
        commune_code,
    )
    return await current_assignment(session, directive_id, commune_code)


async def run_update(
    call: Awaitable[T], session: AsyncSession, directive_id: int, commune_code: str
) -> T:
    """Send one update to an assignment's workflow; turn a refusal into 409 and a finished or
    missing workflow into an answer that says which."""
    try:
        return await call
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == ALREADY_ACKNOWLEDGED:
            state = value_to_type(AssignmentState, cause.details[0]) if cause.details else None
            raise AlreadyAcknowledged(state) from e
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or e)
        raise HTTPException(status.HTTP_409_CONFLICT, message) from e
    except (RPCError, WorkflowAlreadyStartedError) as e:
        closed = isinstance(e, WorkflowAlreadyStartedError) or e.status in (
            RPCStatusCode.NOT_FOUND,
            RPCStatusCode.FAILED_PRECONDITION,
            RPCStatusCode.ALREADY_EXISTS,
        )
        if not closed:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"the workflow engine refused: {getattr(e, 'message', e)}",
            ) from e
        found = await queries.get_assignment(session, directive_id, commune_code)
        if found is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, assignment_not_found(directive_id, commune_code)
            ) from e
        current = AssignmentStatus(found[0].status)
        if current in CLOSED_STATUSES:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"the assignment is {current.value}"
            ) from e
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the assignment is still being opened; try again shortly"
        ) from e


async def run_directive_update(call: Awaitable[T], directive: Directive) -> T:
    """Send one update to a directive's workflow; a refusal becomes 409."""
    try:
        return await call
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or e)
        raise HTTPException(status.HTTP_409_CONFLICT, message) from e
    except RPCError as e:
        if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"the directive is {directive.status}"
            ) from e
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"the workflow engine refused: {e.message}"
        ) from e
