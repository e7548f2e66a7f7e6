"""Directives: issue one (stored, then its workflow started), list and read them, amend and
recall them through their workflow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from config import Settings
from db import queries
from db.communes import DAK_LAK
from db.models import Commune, Directive, policy_from_json, policy_to_json
from db.thread_sessions import ThreadSessions
from services.durations import parse_duration
from services.errors import Invalid, NotFound
from services.idempotency import find_replayed, fingerprint
from services.principals import Principal
from services.schemas import (
    Counts,
    DirectiveAmend,
    DirectiveCreate,
    DirectivePublic,
    DirectivesPublic,
    assignment_fields,
    assignments_json,
    policy_out,
)
from services.workflow_calls import (
    check_deadline_ahead,
    refused_as,
    send_update,
    start_or_join,
)
from vocabulary.directives import (
    AssignmentStatus,
    DirectivePolicy,
    DirectiveStatus,
    EscalationStep,
    Timeliness,
    directive_workflow_id,
)
from vocabulary.roles import ASSIGNEE_ROLES, Role
from workflows.directive import DIRECTIVE_TASK_TIMEOUT, DirectiveWorkflow
from workflows.types import AmendDirectiveInput, IssueDirectiveInput, RecallDirectiveInput


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
        co_units=list(directive.co_units or []),
    )


async def release_connection(session: AsyncSession) -> None:
    """End the session's read transaction so its connection goes back to the pool while the
    request waits on Temporal: a burst of slow updates must not hold every connection."""
    await session.commit()


async def create_directive(
    session: AsyncSession,
    payload: DirectiveCreate,
    user: Principal,
    idempotency_key: str | None,
) -> tuple[Directive, bool]:
    """Store the directive (status `issuing`); with an idempotency key already used, return
    the directive it created instead. Returns (directive, created)."""
    request_fingerprint = fingerprint(payload)
    existing = await find_replayed(
        session, Directive, idempotency_key, request_fingerprint, "directive"
    )
    if existing is not None:
        return existing, False
    province = str(DAK_LAK)
    known = set(
        await session.scalars(select(Commune.code).where(Commune.province_code == province))
    )
    if payload.communes is None:
        communes = sorted(known)
    else:
        unknown = sorted(set(payload.communes) - known)
        if unknown:
            raise Invalid(f"unknown commune codes: {', '.join(unknown[:20])}")
        communes = sorted(payload.communes)
    now = datetime.now(UTC)
    check_deadline_ahead(payload.deadline, now)
    directive = Directive(
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint if idempotency_key else None,
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
        existing = await find_replayed(
            session, Directive, idempotency_key, request_fingerprint, "directive"
        )
        if existing is None:
            raise
        return existing, False
    return directive, True


async def start_directive(client: Client, settings: Settings, directive: Directive) -> None:
    """Start (or find running) the directive's workflow; safe to call any number of times."""
    await start_or_join(
        client,
        DirectiveWorkflow.run,
        issue_input(directive),
        workflow_id=directive_workflow_id(directive.id),
        task_queue=settings.task_queue,
        task_timeout=DIRECTIVE_TASK_TIMEOUT,
        unstarted=lambda reason: (
            f"the directive is stored as {directive.id} but could not be started yet ({reason});"
            " repeat the request with the same Idempotency-Key to start it"
        ),
    )


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


async def issue_directive(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    payload: DirectiveCreate,
    user: Principal,
    idempotency_key: str | None,
) -> tuple[DirectivePublic, bool]:
    """Issue a directive to every commune (or the listed ones): store it, start its workflow
    and wait a few seconds for its deadline. Returns (directive, created): not created when the
    idempotency key named one issued before."""
    directive, created = await create_directive(session, payload, user, idempotency_key)
    await release_connection(session)
    await start_directive(temporal, settings, directive)
    if directive.status == DirectiveStatus.ISSUING:
        await wait_for_plan(temporal, directive.id, settings.issue_wait_seconds)
        await session.refresh(directive)
    return await directive_public(session, directive), created


def _visible(user: Principal, communes: list[str]) -> bool:
    """Whether this user may see a directive addressed to these communes (a leader: only if
    addressed to theirs)."""
    return user.role not in ASSIGNEE_ROLES or user.commune_code in communes


def visible_directive(session: Session, user: Principal, directive_id: int) -> Directive:
    """The directive, if it exists and this user may see it (a leader: only if addressed)."""
    directive = session.get(Directive, directive_id)
    if directive is None or not _visible(user, directive.communes):
        raise NotFound(f"directive {directive_id} not found")
    return directive


async def load_directive(session: AsyncSession, user: Principal, directive_id: int) -> Directive:
    """`visible_directive` on the request's async session."""
    return await session.run_sync(visible_directive, user, directive_id)


async def directive_public(
    session: AsyncSession, directive: Directive, commune_code: str | None = None
) -> DirectivePublic:
    counts = await queries.assignment_counts(session, [directive.id], commune_code)
    return to_directive_public(directive, counts[directive.id])


def to_directive_public(directive: Directive | Any, counts: dict[str, Any]) -> DirectivePublic:
    """A directive, or a row of its shown columns (queries.DIRECTIVE_SHOWN), as shown."""
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


async def read_directive(
    sessions: ThreadSessions, user: Principal, directive_id: int
) -> DirectivePublic:
    """One directive, its counts limited to what this person may see; read with its counts in
    one query."""
    found = await sessions.run(
        lambda session: queries.directive_with_counts(session, directive_id, user.commune_filter())
    )
    if found is None or not _visible(user, found[0].communes):
        raise NotFound(f"directive {directive_id} not found")
    return to_directive_public(*found)


async def directive_assignments_json(
    sessions: ThreadSessions,
    settings: Settings,
    user: Principal,
    directive_id: int,
    status: AssignmentStatus | None,
    timeliness: Timeliness | None,
    limit: int,
    offset: int,
) -> bytes:
    """One directive's assignments by commune (a leader: their own), as AssignmentsPublic's
    JSON. The directive is read only when the page is empty or the reader is a leader: a row
    of it already proves that it exists, which is all it takes for anyone else to see it."""

    def read(session: Session) -> tuple[list[tuple[Any, str]], int]:
        rows, total = queries.list_assignments(
            session,
            directive_id,
            user.communes_filter(),
            status.value if status else None,
            timeliness.value if timeliness else None,
            min(limit, settings.max_page_size),
            offset,
        )
        if not rows or user.role in ASSIGNEE_ROLES:
            visible_directive(session, user, directive_id)
        return rows, total

    rows, total = await sessions.run(read)
    return assignments_json([assignment_fields(a, name) for a, name in rows], total)


async def list_directives(
    session: AsyncSession,
    settings: Settings,
    user: Principal,
    status: DirectiveStatus | None,
    limit: int,
    offset: int,
) -> DirectivesPublic:
    scope = user.commune_filter()
    rows, total = await queries.list_directives(
        session,
        scope,
        status.value if status else None,
        min(limit, settings.max_page_size),
        offset,
    )
    counts = await queries.assignment_counts(session, [d.id for d in rows], scope)
    return DirectivesPublic(data=[to_directive_public(d, counts[d.id]) for d in rows], count=total)


async def _update_directive(
    session: AsyncSession, temporal: Client, directive: Directive, update: Any, argument: object
) -> DirectivePublic:
    """One update to the directive's workflow; the answer is the directive as it then stands."""
    await release_connection(session)
    handle = temporal.get_workflow_handle(directive_workflow_id(directive.id))
    await send_update(
        handle.execute_update(update, argument),
        closed=refused_as(f"the directive is {directive.status}"),
    )
    await session.refresh(directive)
    return await directive_public(session, directive)


async def amend_directive(
    session: AsyncSession,
    temporal: Client,
    user: Principal,
    directive_id: int,
    payload: DirectiveAmend,
) -> DirectivePublic:
    """Change the text or the deadline; every open assignment picks it up, and a change of
    text asks each commune to acknowledge again."""
    directive = await load_directive(session, user, directive_id)
    check_deadline_ahead(payload.deadline, datetime.now(UTC))
    return await _update_directive(
        session,
        temporal,
        directive,
        DirectiveWorkflow.amend,
        AmendDirectiveInput(
            actor=user.actor, title=payload.title, body=payload.body, deadline=payload.deadline
        ),
    )


async def recall_directive(
    session: AsyncSession, temporal: Client, user: Principal, directive_id: int, reason: str
) -> DirectivePublic:
    """Cancel every open assignment of the directive."""
    directive = await load_directive(session, user, directive_id)
    return await _update_directive(
        session,
        temporal,
        directive,
        DirectiveWorkflow.recall,
        RecallDirectiveInput(actor=user.actor, reason=reason),
    )
