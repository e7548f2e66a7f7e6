"""A plan's task as directives: the directive an issued task asks its lead units with, and, for a
task reported every period, the period a day falls in opened once with a directive of its own.
Shared by the office's issue (the first period) and the task's schedule (each later one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Directive, policy_to_json
from db.models.plans import Plan, PlanTask, PlanTaskPeriod, PlanTaskUnit
from vocabulary.deadline_text import ReportEvery
from vocabulary.directives import DirectiveStatus
from vocabulary.plan_periods import TASK_POLICY, due_moment, period_holding

LEAD = "lead"


def task_directive(
    plan: Plan,
    task: PlanTask,
    units: TaskUnits,
    due: date,
    actor: str,
    now: datetime,
) -> Directive:
    """The directive that asks a task's lead units for its product by `due`, and tells its
    co-ordinating units (those that do not lead it too)."""
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
        issued_by=actor,
        deadline=due_moment(due),
        communes=sorted(set(units.lead)),
        co_units=sorted(set(units.co) - set(units.lead)),
        policy=policy_to_json(TASK_POLICY),
        updated_at=now,
    )


@dataclass(frozen=True)
class TaskUnits:
    """A task's lead and co-ordinating units, in the plan's order."""

    lead: list[str] = field(default_factory=list)
    co: list[str] = field(default_factory=list)


def task_units(session: Session, task_ids: list[int]) -> dict[int, TaskUnits]:
    found: dict[int, TaskUnits] = {}
    rows = session.execute(
        select(PlanTaskUnit.task_id, PlanTaskUnit.role, PlanTaskUnit.unit_code)
        .where(PlanTaskUnit.task_id.in_(task_ids))
        .order_by(PlanTaskUnit.task_id, PlanTaskUnit.position)
    )
    for task_id, role, code in rows:
        units = found.setdefault(task_id, TaskUnits())
        (units.lead if role == LEAD else units.co).append(code)
    return found


def reported_period(task: PlanTask, day: date) -> tuple[date, date] | None:
    """The period of a task reported every period that holds `day`; None for a task with fixed
    dates, or a day past the year its reports end."""
    if task.recurrence_every is None:
        return None
    start, end = period_holding(ReportEvery(task.recurrence_every), day)
    if task.recurrence_until_year is not None and start.year > task.recurrence_until_year:
        return None
    return start, end


def open_task_period(
    session: Session, task_id: int, day: date, actor: str, now: datetime
) -> tuple[PlanTaskPeriod | None, Directive | None, bool]:
    """The period of an issued task that holds `day`, with its directive: opened now (created
    True) or found opened before. (None, None, False) for a task that is gone, not issued, not
    reported every period, or whose reports have ended."""
    task = session.get(PlanTask, task_id)
    if task is None or task.directive_id is None:
        return None, None, False
    period = reported_period(task, day)
    if period is None:
        return None, None, False
    start, end = period
    found = session.get(PlanTaskPeriod, (task_id, start))
    if found is not None:
        return found, session.get(Directive, found.directive_id), False
    plan = session.get(Plan, task.plan_id)
    assert plan is not None  # a task's plan is never deleted
    units = task_units(session, [task_id]).get(task_id, TaskUnits())
    directive = task_directive(plan, task, units, end, actor, now)
    session.add(directive)
    session.flush()
    opened = PlanTaskPeriod(
        task_id=task_id, starts_on=start, ends_on=end, directive_id=directive.id, opened_at=now
    )
    session.add(opened)
    task.directive_id = directive.id
    return opened, directive, True
