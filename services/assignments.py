"""A directive's assignments: the lists, one commune's detail, and the actions on it (the commune
leader's acknowledge, report and extension request; the office's review and extension decision),
each an update on the assignment's own workflow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.fanout import assignment_start_options
from activities.records import write_assignment_record
from config import Settings
from db import queries
from db.models import Assignment, assignment_columns, policy_from_json
from db.thread_sessions import ThreadSessions
from services.directives import load_directive, release_connection
from services.errors import NotFound, Refused, ServiceError
from services.idempotency import act_once
from services.principals import Principal
from services.schemas import (
    AcknowledgeResult,
    AssignmentDetail,
    AssignmentEventPublic,
    AssignmentPublic,
    AssignmentsPublic,
    assignment_fields,
)
from services.workflow_calls import FINISHED_STATUSES, send_update
from vocabulary.directives import (
    CLOSED_STATUSES,
    AssignmentState,
    AssignmentStatus,
    Timeliness,
    assignment_workflow_id,
)
from vocabulary.refusals import ALREADY_ACKNOWLEDGED
from workflows.assignment import AssignmentWorkflow
from workflows.types import (
    AcknowledgeInput,
    DirectivePlan,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    RecordAssignmentInput,
    ReportInput,
    ReviewInput,
    StartAssignmentsInput,
    assignment_input,
)


class AlreadyAcknowledged(Exception):
    """A repeat acknowledgement, with the workflow's state as it refused it."""

    def __init__(self, state: AssignmentState | None) -> None:
        super().__init__("already acknowledged")
        self.state = state


T = TypeVar("T")
log = logging.getLogger("axis.assignments")
# How long a request that could not write an answer waits to ask the workflow to write it.
SIGNAL_TIMEOUT_SECONDS = 5.0


def assignment_not_found(directive_id: int, commune_code: str) -> str:
    """What a missing assignment and another commune's answer alike."""
    return f"directive {directive_id} has no assignment for commune {commune_code}"


def check_commune(user: Principal, directive_id: int, commune_code: str) -> None:
    """Another commune's assignment answers exactly as a missing one would, so that nobody can
    probe which ids exist elsewhere."""
    if not user.may_see(commune_code):
        raise NotFound(assignment_not_found(directive_id, commune_code))


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
    rows, total = await session.run_sync(
        queries.list_assignments,
        directive_id,
        commune_code,
        status.value if status else None,
        timeliness.value if timeliness else None,
        min(limit, settings.max_page_size),
        offset,
    )
    return AssignmentsPublic(data=[to_assignment_public(a, name) for a, name in rows], count=total)


def to_assignment_public(assignment: Assignment | Any, commune_name: str) -> AssignmentPublic:
    """An assignment, or a row of its columns (the lists read rows, not objects), as shown."""
    return AssignmentPublic(**assignment_fields(assignment, commune_name))


def overlay_state(public: AssignmentPublic, state: AssignmentState | None) -> AssignmentPublic:
    """The read model's row brought up to the workflow's own, possibly newer, state."""
    if state is None or state.seq <= 0:
        return public
    columns = assignment_columns(state)
    del columns["seq"]
    # Answered in UTC as the read model's times are, whatever offset the workflow was given.
    columns = {
        name: value.astimezone(UTC) if isinstance(value, datetime) else value
        for name, value in columns.items()
    }
    needs_acknowledgement = (
        state.status not in CLOSED_STATUSES and state.acknowledged_revision < state.revision
    )
    return public.model_copy(update={**columns, "needs_acknowledgement": needs_acknowledgement})


async def load_assignment(
    session: AsyncSession, directive_id: int, commune_code: str
) -> tuple[Assignment, str]:
    found = await queries.get_assignment(session, directive_id, commune_code)
    if found is None:
        raise NotFound(assignment_not_found(directive_id, commune_code))
    return found


async def assignment_detail(
    session: AsyncSession, user: Principal, directive_id: int, commune_code: str
) -> AssignmentDetail:
    """One commune's assignment with its timeline."""
    check_commune(user, directive_id, commune_code)
    await load_directive(session, user, directive_id)
    assignment, name = await load_assignment(session, directive_id, commune_code)
    events = await queries.assignment_events(session, directive_id, commune_code)
    return AssignmentDetail(
        **to_assignment_public(assignment, name).model_dump(),
        events=[
            AssignmentEventPublic(seq=e.seq, kind=e.kind, at=e.at, actor=e.actor, detail=e.detail)
            for e in events
        ],
    )


async def current_assignment(
    session: AsyncSession, directive_id: int, commune_code: str
) -> AssignmentPublic:
    """The assignment as the read model has it now (after an update wrote it)."""
    session.expire_all()
    assignment, name = await load_assignment(session, directive_id, commune_code)
    return to_assignment_public(assignment, name)


@dataclass
class AssignmentActions:
    """One commune's assignment, ready to receive an action: `actions.report(user, …)`. With an
    idempotency key, the action is taken once and a repeat gets the first answer."""

    directive_id: int
    commune_code: str
    session: AsyncSession
    temporal: Client
    settings: Settings
    idempotency_key: str | None = None
    # The read before the update and an answer's write, each whole in a thread (the API's hot
    # path); without, both go through `session`.
    threads: ThreadSessions | None = None

    def check_scope(self, user: Principal) -> None:
        """Another commune's assignment answers as a missing one."""
        check_commune(user, self.directive_id, self.commune_code)

    async def send(
        self, update: Any, argument: object, update_id: str | None = None
    ) -> AssignmentPublic:
        return await update_assignment(
            self.session,
            self.temporal,
            self.settings,
            self.directive_id,
            self.commune_code,
            update,
            argument,
            update_id=update_id,
            threads=self.threads,
        )

    async def once(self, update: Any, argument: object) -> AssignmentPublic:
        """Send the update, once per idempotency key."""
        return await act_once(
            self.session,
            assignment_workflow_id(self.directive_id, self.commune_code),
            update.__name__,
            self.idempotency_key,
            argument,
            AssignmentPublic,
            lambda update_id: self.send(update, argument, update_id),
        )

    async def acknowledge(self, user: Principal) -> AcknowledgeResult:
        """Acknowledge receipt. Acknowledging again is harmless: the answer says it already
        was."""
        self.check_scope(user)
        argument = AcknowledgeInput(user.actor)

        async def acknowledge(update_id: str | None) -> AcknowledgeResult:
            try:
                current = await self.send(AssignmentWorkflow.acknowledge, argument, update_id)
            except AlreadyAcknowledged as repeat:
                # A click racing the first one: the read model may not show that one yet; the
                # workflow's state, sent with its refusal, does.
                stored = await current_assignment(
                    self.session, self.directive_id, self.commune_code
                )
                current = overlay_state(stored, repeat.state)
                return AcknowledgeResult(**current.model_dump(), already_acknowledged=True)
            return AcknowledgeResult(**current.model_dump(), already_acknowledged=False)

        return await act_once(
            self.session,
            assignment_workflow_id(self.directive_id, self.commune_code),
            "acknowledge",
            self.idempotency_key,
            argument,
            AcknowledgeResult,
            acknowledge,
        )

    async def report(self, user: Principal, summary: str, evidence: list[str]) -> AssignmentPublic:
        """Report completion with a summary and evidence (links or document references)."""
        self.check_scope(user)
        return await self.once(
            AssignmentWorkflow.report,
            ReportInput(actor=user.actor, summary=summary, evidence=evidence),
        )

    async def review(self, user: Principal, accept: bool, comment: str) -> AssignmentPublic:
        """Accept a report (done), or return it for rework with a comment."""
        return await self.once(
            AssignmentWorkflow.review, ReviewInput(actor=user.actor, accept=accept, comment=comment)
        )

    async def request_extension(
        self, user: Principal, until: datetime, reason: str
    ) -> AssignmentPublic:
        """Ask the steering office to move the deadline."""
        self.check_scope(user)
        return await self.once(
            AssignmentWorkflow.request_extension,
            ExtensionRequestInput(actor=user.actor, until=until, reason=reason),
        )

    async def decide_extension(
        self, user: Principal, grant: bool, until: datetime | None, comment: str
    ) -> AssignmentPublic:
        """Grant (moving the live deadline; the original stays on record) or refuse."""
        return await self.once(
            AssignmentWorkflow.decide_extension,
            ExtensionDecisionInput(actor=user.actor, grant=grant, until=until, comment=comment),
        )


async def acknowledge_by_link(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    directive_id: int,
    commune_code: str,
    link_id: str,
    threads: ThreadSessions | None = None,
) -> AssignmentPublic:
    """A leader's one-click link acknowledges through the assignment's own update, as the
    leader's token would; the actor names the link, never the secret in it. The link is its
    own idempotency key: the same link pressed again after an answer that was lost gets the
    first answer. A repeat of another kind raises AlreadyAcknowledged."""
    return await update_assignment(
        session,
        temporal,
        settings,
        directive_id,
        commune_code,
        AssignmentWorkflow.acknowledge,
        AcknowledgeInput(actor=f"commune_leader:link {link_id[:8]}"),
        update_id=f"acknowledge:link:{link_id}",
        threads=threads,
    )


async def update_assignment(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    directive_id: int,
    commune_code: str,
    update: Any,
    argument: object,
    *,
    update_id: str | None = None,
    threads: ThreadSessions | None = None,
) -> AssignmentPublic:
    """Send one update to the assignment's own workflow and answer with the state it recorded.
    An update that answers with its record (an acknowledgement) has its record written here,
    from the answer; the workflow carries the same record with its own next write (a report, a
    reminder's notice, the deadline mark, the close), so an answer whose writer died is behind
    only until then. Any other update returns after the workflow's own write. An update id
    already used is answered by the engine with that update's result, without a second effect.

    The update goes to the running workflow: one round trip. An answer can arrive before the
    fan-out has started this commune's workflow (a leader who clicks within a second, or one of
    3,321 communes): the engine then knows no such workflow, and update-with-start starts it
    with the input the fan-out would give it, and the fan-out finds it running."""
    found = await _transaction(
        session,
        threads,
        lambda s: queries.assignment_with_directive(s, directive_id, commune_code),
    )
    if found is None:
        raise NotFound(assignment_not_found(directive_id, commune_code))
    assignment, name, directive = found
    if directive.deadline is None:
        raise Refused("the directive is still being issued; try again shortly")
    before = to_assignment_public(assignment, name)
    stored_seq = assignment.seq
    start = StartAssignmentsInput(
        plan=DirectivePlan(
            directive_id=directive.id,
            deadline=directive.deadline,
            acknowledge_by=directive.acknowledge_by,
            communes=[commune_code],
        ),
        policy=policy_from_json(directive.policy),
        issued_at=directive.issued_at,
        task_queue=settings.task_queue,
    )
    # What the caller read on the session before (a link's check) must not hold its
    # connection while the update waits on Temporal either.
    await release_connection(session)
    workflow_id = assignment_workflow_id(directive_id, commune_code)

    async def call() -> object:
        handle = temporal.get_workflow_handle(workflow_id)
        try:
            return await handle.execute_update(update, argument, id=update_id)
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
        operation = WithStartWorkflowOperation(
            AssignmentWorkflow.run,
            assignment_input(start, commune_code),
            **assignment_start_options(start, commune_code),
        )
        return await temporal.execute_update_with_start_workflow(
            update, argument, start_workflow_operation=operation, id=update_id
        )

    try:
        recorded = await send_update(
            call(),
            lambda: _closed_refusal(session, directive_id, commune_code),
            refusals=_already_acknowledged,
            # The id of a run that has finished is refused to the start as taken.
            closed_statuses=(*FINISHED_STATUSES, RPCStatusCode.ALREADY_EXISTS),
        )
    except AlreadyAcknowledged as repeat:
        if repeat.state is not None and repeat.state.seq > stored_seq:
            # The first answer's record never reached the row (its writer died or failed).
            await ask_to_write_waiting_records(temporal, workflow_id)
        raise
    if isinstance(recorded, RecordAssignmentInput):
        try:
            await _transaction(session, threads, lambda s: write_assignment_record(s, recorded))
        except Exception:
            # The answer stands in the workflow: it writes the record itself, retrying until
            # the database is back, and this request fails as the database's error says.
            await ask_to_write_waiting_records(temporal, workflow_id)
            raise
        # Only the state moved: the row read before, brought up to it, is the answer.
        return overlay_state(before, recorded.state)
    current = await current_assignment(session, directive_id, commune_code)
    # A repeated update id is answered with the first update's state, which the read model
    # may have moved past since (the office has accepted the report): that state stands.
    return overlay_state(current, recorded if isinstance(recorded, AssignmentState) else None)


async def _transaction(
    session: AsyncSession, threads: ThreadSessions | None, work: Callable[[Session], T]
) -> T:
    """`work` in a transaction of its own, committed: in a thread when there are threads,
    else on the request's session, whose connection goes back to the pool with the commit (a
    burst of updates waiting on Temporal must not hold every connection)."""
    if threads is not None:
        return await threads.run(work)
    result = await session.run_sync(work)
    await session.commit()
    return result


async def ask_to_write_waiting_records(temporal: Client, workflow_id: str) -> None:
    """Ask an assignment to write the answers' records it is carrying now. Best effort: when
    the engine is unreachable too, the records still go with the assignment's next write."""
    try:
        await asyncio.wait_for(
            temporal.get_workflow_handle(workflow_id).signal(
                AssignmentWorkflow.write_waiting_records
            ),
            SIGNAL_TIMEOUT_SECONDS,
        )
    except (RPCError, TimeoutError) as e:
        log.warning("could not ask %s to write its waiting records: %s", workflow_id, e)


def _already_acknowledged(cause: ApplicationError) -> AlreadyAcknowledged | None:
    """A repeat acknowledgement, with the workflow's state sent with the refusal."""
    if cause.type != ALREADY_ACKNOWLEDGED:
        return None
    state = value_to_type(AssignmentState, cause.details[0]) if cause.details else None
    return AlreadyAcknowledged(state)


async def _closed_refusal(
    session: AsyncSession, directive_id: int, commune_code: str
) -> ServiceError:
    """Why a workflow that is not running refused: the assignment is gone, finished, or not
    opened yet."""
    found = await queries.get_assignment(session, directive_id, commune_code)
    if found is None:
        return NotFound(assignment_not_found(directive_id, commune_code))
    current = AssignmentStatus(found[0].status)
    if current in CLOSED_STATUSES:
        return Refused(f"the assignment is {current.value}")
    return Refused("the assignment is still being opened; try again shortly")
