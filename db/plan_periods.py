"""A plan's task as directives: the directive an issued task asks its lead units with, and, for a
task reported every period, the period a day falls in opened once with a directive of its own.
Shared by the office's issue (the first period) and the task's schedule (each later one)."""

from __future__ import annotations

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
    plan: Plan, task: PlanTask, lead: list[str], due: date, actor: str, now: datetime
) -> Directive:
    """The directive that asks a task's lead units for its product by `due`."""
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
        communes=sorted(set(lead)),
        policy=policy_to_json(TASK_POLICY),
        updated_at=now,
    )


def lead_units(session: Session, task_id: int) -> list[str]:
    return list(
        session.scalars(
            select(PlanTaskUnit.unit_code)
            .where(PlanTaskUnit.task_id == task_id, PlanTaskUnit.role == LEAD)
            .order_by(PlanTaskUnit.position)
        )
    )


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
    directive = task_directive(plan, task, lead_units(session, task_id), end, actor, now)
    session.add(directive)
    session.flush()
    opened = PlanTaskPeriod(
        task_id=task_id, starts_on=start, ends_on=end, directive_id=directive.id, opened_at=now
    )
    session.add(opened)
    task.directive_id = directive.id
    return opened, directive, True
