"""Issuing a plan's tasks: each task becomes a directive to its lead units (agencies, communes
or both), whose workflow starts one assignment per lead unit with the same acknowledgement,
report, review, extension, reminders and ladder as any directive. A task the office cannot
hold anyone to (no lead unit, no product, no deadline) is refused with what it lacks; a plan
taken over with tasks already "Hoàn thành" marks them done and starts nothing for them.

A task reported every period ("Thường xuyên", "Hằng quý", "Năm 2026 và hằng năm đến 2030") asks
for the period under way first; a Temporal Schedule per task (`plan-task-{id}`) opens each later
period with a directive of its own, until the year its reports end.

The ladder of a task runs from the lead unit's head (its reminders and overdue notice) to the
committee leader the plan puts in charge, then to the steering office."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from config import Settings
from db.models import Directive
from db.models.plans import Plan, PlanTask, PlanTaskPeriod
from db.plan_periods import TaskUnits, reported_period, task_directive, task_units
from services.directives import start_directive
from services.errors import Invalid, NotFound
from services.plan_schemas import PlanIssue, PlanIssueReport
from services.plan_sheet import TaskProgress
from services.principals import Principal
from vocabulary.calendar import VIETNAM
from vocabulary.deadline_text import ReportEvery
from vocabulary.directives import DirectiveStatus
from vocabulary.plan_periods import schedule_cron, task_period_workflow_id, task_schedule_id
from workflows.plan_task_period import PlanTaskPeriodWorkflow
from workflows.plan_task_period_types import PlanTaskPeriodInput

DRAFT = "draft"
ISSUED = "issued"
DONE = "done"
LEAD = "lead"
TAKEN_OVER_DONE = TaskProgress.DONE.value
# Directives of one issue started at once: the engine's start rate, not the plan's size,
# bounds it.
START_CONCURRENCY = 16


@dataclass(frozen=True)
class _Ready:
    task: PlanTask
    units: TaskUnits
    due: date
    # The period the first directive asks for, for a task reported every period.
    period: tuple[date, date] | None


def task_due(task: PlanTask, today: date) -> tuple[date | None, tuple[date, date] | None]:
    """When a task's first assignments fall due, and the period they report for: the end of
    the period under way for a task reported every period (its last day once its reports have
    ended), else its last day."""
    period = reported_period(task, today)
    if period is not None:
        return period[1], period
    return task.final_due, None


def _missing(task: PlanTask, lead: list[str], due: date | None) -> list[str]:
    missing = []
    if not lead:
        missing.append("no lead unit")
    if not task.product.strip():
        missing.append("no product")
    if due is None:
        missing.append("no deadline")
    return missing


def schedule_for(task: PlanTask, settings: Settings) -> Schedule:
    """The schedule that opens each later period of a task reported every period: at the start
    of each month, quarter, half or year in Vietnam, until the end of the year its reports end."""
    every = ReportEvery(task.recurrence_every or ReportEvery.YEAR)
    until = task.recurrence_until_year
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PlanTaskPeriodWorkflow.run,
            PlanTaskPeriodInput(task_id=task.id),
            id=task_period_workflow_id(task.id),
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            cron_expressions=[schedule_cron(every)],
            time_zone_name="Asia/Ho_Chi_Minh",
            end_at=(
                None
                if until is None
                else datetime.combine(date(until + 1, 1, 1), time(0), tzinfo=VIETNAM)
            ),
        ),
        # Opening a period is quick and idempotent: a run late after an outage opens its own.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
        state=ScheduleState(note=f"plan task {task.id}: opens each {every.value} period"),
    )


async def keep_schedules(client: Client, settings: Settings, tasks: list[PlanTask]) -> None:
    """Make the schedule of every issued task reported every period; one made before is kept."""

    async def make(task: PlanTask) -> None:
        try:
            await client.create_schedule(task_schedule_id(task.id), schedule_for(task, settings))
        except ScheduleAlreadyRunningError:
            pass

    await asyncio.gather(*(make(t) for t in tasks))


async def reconcile_schedules(session: AsyncSession, client: Client, settings: Settings) -> int:
    """Make the schedule of every issued task reported every period, whatever its plan."""
    recurring = list(
        await session.scalars(
            select(PlanTask).where(
                PlanTask.status == ISSUED, PlanTask.recurrence_every.is_not(None)
            )
        )
    )
    await session.commit()
    await keep_schedules(client, settings, recurring)
    return len(recurring)


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
    again starts whatever did not start (the directives' starts and the schedules are
    idempotent)."""
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
    ids = [t.id for t in tasks]
    units = await session.run_sync(lambda sync: task_units(sync, ids))
    now = datetime.now(UTC)
    today = now.astimezone(VIETNAM).date()
    drafts = [t for t in tasks if t.status == DRAFT]
    earlier = [t.code for t in tasks if t.status != DRAFT]
    taken_done = [t for t in drafts if t.progress == TAKEN_OVER_DONE]
    ready: list[_Ready] = []
    refusals: list[dict[str, str]] = []
    for task in drafts:
        if task.progress == TAKEN_OVER_DONE:
            continue
        of_task = units.get(task.id, TaskUnits())
        due, period = task_due(task, today)
        missing = _missing(task, of_task.lead, due)
        if missing or due is None:
            refusals.append({"task": task.code, "missing": ", ".join(missing)})
        else:
            ready.append(_Ready(task, of_task, due, period))
    if refusals:
        raise Invalid(
            f"{len(refusals)} task{'s' if len(refusals) > 1 else ''} cannot be issued: "
            + "; ".join(f"{r['task']}: {r['missing']}" for r in refusals[:20]),
            details={"errors": refusals},
        )
    directives = [task_directive(plan, r.task, r.units, r.due, user.actor, now) for r in ready]
    session.add_all(directives)
    await session.flush()
    for r, directive in zip(ready, directives, strict=True):
        r.task.directive_id = directive.id
        r.task.status = ISSUED
        if r.period is not None:
            session.add(
                PlanTaskPeriod(
                    task_id=r.task.id,
                    starts_on=r.period[0],
                    ends_on=r.period[1],
                    directive_id=directive.id,
                    opened_at=now,
                )
            )
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
    recurring = list(
        await session.scalars(
            select(PlanTask).where(
                PlanTask.plan_id == plan_id,
                PlanTask.status == ISSUED,
                PlanTask.recurrence_every.is_not(None),
            )
        )
    )
    await session.commit()
    limit = asyncio.Semaphore(START_CONCURRENCY)

    async def start(directive: Directive) -> None:
        async with limit:
            await start_directive(temporal, settings, directive)

    await asyncio.gather(*(start(d) for d in pending))
    await keep_schedules(temporal, settings, recurring)
    return PlanIssueReport(
        issued=[r.task.code for r in ready],
        already_issued=earlier,
        done=[t.code for t in taken_done],
        assignments=sum(len(set(r.units.lead)) for r in ready),
    )
