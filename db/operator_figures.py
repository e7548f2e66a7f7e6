"""The read model's figures an operator watches (assignments by status, overdue, escalations,
messages by delivery state, dead letters, past-due cases, late timers): a handful of SQL
aggregates, read by the API's metrics endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Assignment,
    DeadLetter,
    Delivery,
    Directive,
    Dossier,
    Feedback,
    Notification,
    OutboxEntry,
)
from vocabulary.cases import DOSSIER_DONE, DossierStatus, FeedbackStatus
from vocabulary.delivery import DeliveryState
from vocabulary.directives import (
    ANSWERED_STATUSES,
    CLOSED_STATUSES,
    AssignmentStatus,
    NotificationKind,
    Timeliness,
)

UNANSWERED = [s.value for s in AssignmentStatus if s not in ANSWERED_STATUSES]
OPEN = [s.value for s in AssignmentStatus if s not in CLOSED_STATUSES]
# A dossier waiting for the applicant's supplement has its clock stopped: not past due.
DOSSIER_RUNNING = [
    s.value
    for s in DossierStatus
    if s not in DOSSIER_DONE and s != DossierStatus.SUPPLEMENT_REQUESTED
]
FEEDBACK_WAITING = [FeedbackStatus.RECEIVED.value, FeedbackStatus.ROUTED.value]


@dataclass(frozen=True)
class ReadModelFigures:
    """The read model's figures at one moment."""

    assignments: dict[tuple[str, str], int]
    overdue: int
    escalations: dict[int, int]
    messages: dict[str, int]
    dead_letters: int
    unconfirmed_sends: int
    oldest_queued_message_age_seconds: float
    dossiers_past_due: int
    feedback_past_due: int
    timers_late_seconds: float


def _seconds_since(now: datetime, moment: datetime | None) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


async def read_figures(session: AsyncSession, now: datetime) -> ReadModelFigures:
    """Every figure from a handful of aggregates: nothing here grows with the rows but the
    per-directive groups of the late-timer figure (see `timers_late_seconds`)."""
    unanswered = Assignment.status.in_(UNANSWERED)
    scalars = (
        await session.execute(
            select(
                select(func.count()).where(unanswered, Assignment.deadline < now).scalar_subquery(),
                select(func.count()).select_from(DeadLetter).scalar_subquery(),
                select(func.count())
                .where(OutboxEntry.status == DeliveryState.UNCONFIRMED.value)
                .scalar_subquery(),
                select(func.min(Delivery.updated_at))
                .where(Delivery.state == DeliveryState.QUEUED.value)
                .scalar_subquery(),
                select(func.count())
                .where(Dossier.status.in_(DOSSIER_RUNNING), Dossier.due_at < now)
                .scalar_subquery(),
                select(func.count())
                .where(Feedback.status.in_(FEEDBACK_WAITING), Feedback.answer_due_at < now)
                .scalar_subquery(),
            )
        )
    ).one()
    overdue, dead_letters, unconfirmed, oldest_queued, dossiers, feedback = scalars
    assignments = {
        (row_status, timeliness): count
        for row_status, timeliness, count in await session.execute(
            select(Assignment.status, Assignment.timeliness, func.count()).group_by(
                Assignment.status, Assignment.timeliness
            )
        )
    }
    escalations = {
        int(level): count
        for level, count in await session.execute(
            select(Assignment.escalation_level, func.count())
            .where(Assignment.status.in_(OPEN))
            .group_by(Assignment.escalation_level)
        )
    }
    messages = {
        state: count
        for state, count in await session.execute(
            select(Delivery.state, func.count()).group_by(Delivery.state)
        )
    }
    return ReadModelFigures(
        assignments=assignments,
        overdue=overdue,
        escalations=escalations,
        messages=messages,
        dead_letters=dead_letters,
        unconfirmed_sends=unconfirmed,
        oldest_queued_message_age_seconds=_seconds_since(now, oldest_queued),
        dossiers_past_due=dossiers,
        feedback_past_due=feedback,
        timers_late_seconds=await timers_late_seconds(session, now),
    )


async def timers_late_seconds(session: AsyncSession, now: datetime) -> float:
    """How late, at most, is a timed step of an assignment that the read model shows due and not
    done: 0 when none is. The assignment workflow records each of these steps when it fires, so
    one that stays unrecorded past its time means a timer that did not fire (no worker, a stuck
    task). Three steps are checked, for assignments still waiting for a report:

    - the deadline: the workflow marks the assignment overdue (`timeliness`) at its deadline;
    - the first reminder after the deadline (the policy's negative offset nearest to 0): an
      `overdue` notification is recorded for the commune at or after the current deadline;
    - the next escalation (`escalation_level` + 1 … in the policy): the workflow raises the level
      at the deadline plus the step's `after_seconds`.

    The reminder check is lenient: an `overdue` notice from before an extension that landed after
    the new deadline counts, so it can miss a late reminder but never invents one. Reminders
    before the deadline and acknowledge-by reminders leave no trace the read model could check
    without the workflow's own rules about when a deadline was set, so they are not counted."""
    unanswered = Assignment.status.in_(UNANSWERED)
    latest_due: list[datetime] = []
    deadline_missed = await session.scalar(
        select(func.min(Assignment.deadline)).where(
            unanswered,
            Assignment.timeliness == Timeliness.WITHIN_DEADLINE.value,
            Assignment.deadline < now,
        )
    )
    if deadline_missed is not None:
        latest_due.append(deadline_missed)
    by_level = (
        await session.execute(
            select(
                Assignment.directive_id, Assignment.escalation_level, func.min(Assignment.deadline)
            )
            .where(unanswered, Assignment.deadline < now)
            .group_by(Assignment.directive_id, Assignment.escalation_level)
        )
    ).all()
    no_overdue_notice = ~exists().where(
        Notification.directive_id == Assignment.directive_id,
        Notification.commune_code == Assignment.commune_code,
        Notification.kind == NotificationKind.OVERDUE.value,
        Notification.created_at >= Assignment.deadline,
    )
    unreminded = (
        await session.execute(
            select(Assignment.directive_id, func.min(Assignment.deadline))
            .where(and_(unanswered, Assignment.deadline < now, no_overdue_notice))
            .group_by(Assignment.directive_id)
        )
    ).all()
    directive_ids = {row[0] for row in by_level} | {row[0] for row in unreminded}
    policies: dict[int, dict[str, Any]] = {}
    if directive_ids:
        policies = {
            directive_id: policy
            for directive_id, policy in await session.execute(
                select(Directive.id, Directive.policy).where(Directive.id.in_(directive_ids))
            )
        }
    for directive_id, level, deadline in by_level:
        steps = policies.get(directive_id, {}).get("escalation", [])
        latest_due.extend(deadline + timedelta(seconds=s["after_seconds"]) for s in steps[level:])
    for directive_id, deadline in unreminded:
        after = [
            o for o in policies.get(directive_id, {}).get("reminder_offsets_seconds", []) if o < 0
        ]
        if after:
            latest_due.append(deadline + timedelta(seconds=-max(after)))
    past = [now - due for due in latest_due if due < now]
    return max(past).total_seconds() if past else 0.0
