"""Implementation plans (kế hoạch) of the Steering Committee and the tasks of their appendices:
each task with its leader in charge, lead and co-ordinating units, product, deadline as written
and as dates, the level that issues the product, and the higher plan's task it implements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # As the office numbers its documents: "125/KH-UBND".
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    issued_on: Mapped[date] = mapped_column()
    # The document the plan implements ("Nghị quyết số 57-NQ/TW").
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class PlanTask(Base):
    """One task of a plan. Its deadline is kept as written beside the dates read from it, so
    the office's wording survives and the dates are computed once."""

    __tablename__ = "plan_tasks"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    code: Mapped[str] = mapped_column(String(40))
    group: Mapped[str] = mapped_column(String(500), default="")
    title: Mapped[str] = mapped_column(Text)
    leader_in_charge: Mapped[str] = mapped_column(String(200), default="")
    product: Mapped[str] = mapped_column(Text)
    authority: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(Text, default="")
    due_text: Mapped[str] = mapped_column(String(500))
    # ISO days, sorted; empty when the task reports every period without a fixed date.
    milestones: Mapped[list[str]] = mapped_column(JSON)
    # A `vocabulary.deadline_text.ReportEvery`, with the year the reports end (None: to the
    # plan's horizon).
    recurrence_every: Mapped[str | None] = mapped_column(String(10))
    recurrence_until_year: Mapped[int | None] = mapped_column(Integer)
    # The day the task is last due; None for a report owed without an end. Indexed: the office
    # lists what falls due soon across plans.
    final_due: Mapped[date | None] = mapped_column(index=True)
    # Where the office's sheet said the task stood when the plan was taken over:
    # a `services.plan_sheet.TaskProgress`, None when the sheet had no status.
    progress: Mapped[str | None] = mapped_column(String(16))
    # draft (stored, nothing started), issued (its assignments started) or done.
    status: Mapped[str] = mapped_column(String(16))
    # The code of the higher plan's task this one implements: the cascade. Text, since the
    # higher plan may be a central one that is not stored here.
    implements: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The directive its issue started: one assignment per lead unit. None while a draft.
    directive_id: Mapped[int | None] = mapped_column(
        ForeignKey("directives.id"), unique=True, index=True
    )


class PlanTaskUnit(Base):
    """A unit or commune that leads a task or co-ordinates it, in the order the plan wrote
    them. No foreign key: the code is a unit's or a commune's."""

    __tablename__ = "plan_task_units"

    task_id: Mapped[int] = mapped_column(ForeignKey("plan_tasks.id"), primary_key=True)
    # lead or co
    role: Mapped[str] = mapped_column(String(4), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class PlanTaskPartner(Base):
    """A partner outside the province's units named in a task's lead or co-ordinating cell, as
    written: shown with the task, given no assignment."""

    __tablename__ = "plan_task_partners"

    task_id: Mapped[int] = mapped_column(ForeignKey("plan_tasks.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(4), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class PlanTaskPeriod(Base):
    """One period of a task reported every month, quarter, half or year, and the directive that
    asks its lead units for that period's report. The task's `directive_id` follows the latest."""

    __tablename__ = "plan_task_periods"

    task_id: Mapped[int] = mapped_column(ForeignKey("plan_tasks.id"), primary_key=True)
    starts_on: Mapped[date] = mapped_column(primary_key=True)
    ends_on: Mapped[date] = mapped_column()
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"), unique=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanTaskContribution(Base):
    """What a co-ordinating unit adds to a task it does not lead: its part of the work, with
    evidence, beside the lead units' reports."""

    __tablename__ = "plan_task_contributions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("plan_tasks.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(200))
    contributed_at: Mapped[datetime] = mapped_column(default=utcnow)
