"""Issuing a plan's tasks: each task becomes a directive to its lead units (agencies, communes
or both), whose workflow starts one assignment per lead unit with the same acknowledgement,
report, review, extension, reminders and ladder as any directive. A task the office cannot
hold anyone to (no lead unit, no product, no deadline) is refused with what it lacks; a plan
taken over with tasks already "Hoàn thành" marks them done and starts nothing for them.

The ladder of a task runs from the lead unit's head (its reminders and overdue notice) to the
committee leader the plan puts in charge, then to the steering office."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from config import Settings
from db.models import Directive, policy_to_json
from db.models.plans import Plan, PlanTask, PlanTaskUnit
from services.directives import start_directive
from services.errors import Invalid, NotFound
from services.plan_schemas import PlanIssue, PlanIssueReport
from services.plan_sheet import TaskProgress
from services.principals import Principal
from vocabulary.calendar import VIETNAM
from vocabulary.deadline_text import ReportEvery
from vocabulary.directives import DirectivePolicy, DirectiveStatus, EscalationStep
from vocabulary.roles import Role

DRAFT = "draft"
ISSUED = "issued"
DONE = "done"
LEAD = "lead"
TAKEN_OVER_DONE = TaskProgress.DONE.value
DAY = 86_400
# Reminders a week and a day before the deadline and a day after it; the committee leader in
# charge a day past it, the steering office a week past it.
TASK_POLICY = DirectivePolicy(
    reminder_offsets_seconds=[7 * DAY, DAY, -DAY],
    escalation=[
        EscalationStep(after_seconds=DAY, to=Role.COMMITTEE_LEADER),
        EscalationStep(after_seconds=7 * DAY, to=Role.STEERING_OFFICE),
    ],
)
# Directives of one issue started at once: the engine's start rate, not the plan's size,
# bounds it.
START_CONCURRENCY = 16
# The end of a period a task with no fixed date reports for: its month, quarter, half or year.
_PERIOD_MONTHS = {
    ReportEvery.MONTH: 1,
    ReportEvery.QUARTER: 3,
    ReportEvery.HALF: 6,
    ReportEvery.YEAR: 12,
}


@dataclass(frozen=True)
class _Ready:
    task: PlanTask
    lead: list[str]
    due: date


def period_end(every: ReportEvery, day: date) -> date:
    """The last day of the period of `every` that holds `day`: what a task reported "Hằng
    quý" owes first."""
    months = _PERIOD_MONTHS[every]
    last_month = ((day.month - 1) // months + 1) * months
    following = date(day.year + last_month // 12, last_month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def task_due(task: PlanTask, today: date) -> date | None:
    """The day a task's assignments fall due: its last day, or for a report owed every period
    without one, the end of the period under way."""
    if task.final_due is not None:
        return task.final_due
    if task.recurrence_every is not None:
        return period_end(ReportEvery(task.recurrence_every), today)
    return None


def deadline_of(due: date) -> datetime:
    """A task's day as the moment it falls due: the end of that day in Vietnam."""
    return datetime.combine(due, time(23, 59), tzinfo=VIETNAM)


def _missing(task: PlanTask, lead: list[str], due: date | None) -> list[str]:
    missing = []
    if not lead:
        missing.append("no lead unit")
    if not task.product.strip():
        missing.append("no product")
    if due is None:
        missing.append("no deadline")
    return missing


async def _lead_units(session: AsyncSession, task_ids: list[int]) -> dict[int, list[str]]:
    rows = await session.execute(
        select(PlanTaskUnit.task_id, PlanTaskUnit.unit_code)
        .where(PlanTaskUnit.task_id.in_(task_ids), PlanTaskUnit.role == LEAD)
        .order_by(PlanTaskUnit.task_id, PlanTaskUnit.position)
    )
    found: dict[int, list[str]] = {}
    for task_id, code in rows:
        found.setdefault(task_id, []).append(code)
    return found


def _directive(
    plan: Plan, task: PlanTask, lead: list[str], due: date, user: Principal
) -> Directive:
    now = datetime.now(UTC)
    lines = [
        f"Kế hoạch {plan.code}: {plan.title}",
        f"Sản phẩm: {task.product}",
        f"Thời hạn: {task.due_text}",
    ]
    if task.authority:
        lines.append(f"Cấp ban hành: {task.authority}")
    if task.leader_in_charge:
        lines.append(f"Lãnh đạo phụ trách: {task.leader_in_charge}")
    return Directive(
        title=f"{task.code}. {task.title}"[:500],
        body="\n".join(lines),
        status=DirectiveStatus.ISSUING.value,
        revision=1,
        issued_at=now,
        issued_by=user.actor,
        deadline=deadline_of(due),
        communes=sorted(set(lead)),
        policy=policy_to_json(TASK_POLICY),
        updated_at=now,
    )


async def issue_tasks(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    user: Principal,
    plan_id: int,
    payload: PlanIssue,
) -> PlanIssueReport:
    """Issue the plan's draft tasks (or the ones named): refused whole, naming every task and
    what it lacks, if any cannot be issued. A task issued before is left as it is; issuing
    again starts whatever did not start (the directives' starts are idempotent)."""
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} not found")
    query = select(PlanTask).where(PlanTask.plan_id == plan_id).order_by(PlanTask.id)
    if payload.tasks is not None:
        query = query.where(PlanTask.code.in_(payload.tasks))
    tasks = list(await session.scalars(query))
    if payload.tasks is not None:
        unknown = sorted(set(payload.tasks) - {t.code for t in tasks})
        if unknown:
            raise NotFound(f"plan {plan.code} has no task {', '.join(unknown)}")
    lead = await _lead_units(session, [t.id for t in tasks])
    today = datetime.now(VIETNAM).date()
    drafts = [t for t in tasks if t.status == DRAFT]
    earlier = [t.code for t in tasks if t.status != DRAFT]
    taken_done = [t for t in drafts if t.progress == TAKEN_OVER_DONE]
    ready: list[_Ready] = []
    refusals: list[dict[str, str]] = []
    for task in drafts:
        if task.progress == TAKEN_OVER_DONE:
            continue
        units = lead.get(task.id, [])
        due = task_due(task, today)
        missing = _missing(task, units, due)
        if missing:
            refusals.append({"task": task.code, "missing": ", ".join(missing)})
        else:
            assert due is not None
            ready.append(_Ready(task, units, due))
    if refusals:
        raise Invalid(
            f"{len(refusals)} task{'s' if len(refusals) > 1 else ''} cannot be issued: "
            + "; ".join(f"{r['task']}: {r['missing']}" for r in refusals[:20]),
            details={"errors": refusals},
        )
    directives = [_directive(plan, r.task, r.lead, r.due, user) for r in ready]
    session.add_all(directives)
    await session.flush()
    for r, directive in zip(ready, directives, strict=True):
        r.task.directive_id = directive.id
        r.task.status = ISSUED
    if taken_done:
        await session.execute(
            update(PlanTask).where(PlanTask.id.in_([t.id for t in taken_done])).values(status=DONE)
        )
    await session.commit()
    # Every issued task, this time's and any earlier one whose start did not get through.
    pending = list(
        await session.scalars(
            select(Directive)
            .join(PlanTask, PlanTask.directive_id == Directive.id)
            .where(
                PlanTask.plan_id == plan_id,
                Directive.status == DirectiveStatus.ISSUING.value,
            )
        )
    )
    await session.commit()
    limit = asyncio.Semaphore(START_CONCURRENCY)

    async def start(directive: Directive) -> None:
        async with limit:
            await start_directive(temporal, settings, directive)

    await asyncio.gather(*(start(d) for d in pending))
    return PlanIssueReport(
        issued=[r.task.code for r in ready],
        already_issued=earlier,
        done=[t.code for t in taken_done],
        assignments=sum(len(set(r.lead)) for r in ready),
    )
