"""Request and response bodies of plans and their tasks: a plan, a task with its units resolved
and its deadline read, and the report of an import. Requests refuse unknown fields, as every
request of API v1 does."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from services.plan_sheet import TaskProgress
from services.schemas import Request
from vocabulary.deadline_text import ReportEvery
from vocabulary.directives import Timeliness

# The widths of the stored columns (db/models/plans.py): a longer cell is a row error, not a
# database error.
MAX_PLAN_CODE = 60
MAX_TASK_CODE = 40
MAX_GROUP = 500
MAX_LEADER = 200
MAX_AUTHORITY = 200
MAX_DUE = 500
MAX_IMPLEMENTS = 100
MAX_UNITS = 500

Code = Annotated[str, Field(min_length=1, max_length=MAX_TASK_CODE)]
UnitCode = Annotated[str, Field(min_length=1, max_length=8)]


class PlanCreate(Request):
    code: str = Field(
        min_length=1, max_length=MAX_PLAN_CODE, description='The plan\'s number: "125/KH-UBND"'
    )
    title: str = Field(min_length=1, max_length=500)
    issued_on: date
    source: str = Field(
        default="", max_length=2000, description='What it implements: "Nghị quyết số 57-NQ/TW"'
    )


class PlanPublic(BaseModel):
    id: int
    code: str
    title: str
    issued_on: date
    source: str
    task_count: int
    created_at: datetime
    created_by: str


class PlansPublic(BaseModel):
    data: list[PlanPublic]
    count: int


class UnitRef(BaseModel):
    """A unit or commune by its code and name."""

    code: str
    name: str


class RecurrencePublic(BaseModel):
    every: ReportEvery
    until_year: int | None = Field(description="None: reported to the plan's horizon")


class DeadlinePublic(BaseModel):
    """A deadline as written and as read: its milestones, its period, its last day."""

    due: str = Field(description="As written: 'Quý II/2026', 'Năm 2026 và hằng năm đến 2030'")
    milestones: list[date]
    recurrence: RecurrencePublic | None
    final_due: date | None = Field(description="None when reported without an end")


class TaskUnits(BaseModel):
    lead_units: list[UnitRef]
    co_units: list[UnitRef]
    lead_partners: list[str] = Field(description="Partners outside the province, as written")
    co_partners: list[str]


class TaskStandingPublic(BaseModel):
    assignments: int = Field(description="One per lead unit")
    accepted: int = Field(description='"37 / 102 accepted": accepted of assignments')
    reported: int = Field(description="Reported and waiting for review")
    overdue: int = Field(description="Open past their deadline")
    timeliness: Timeliness = Field(
        description="The Government Office bucket of the task as a whole: on_time or late once "
        "every lead unit is accepted, else overdue if any is, else within_deadline"
    )
    needs_urging: bool = Field(
        description="Cần đôn đốc: overdue, or due within 7 days with a lead unit not reported"
    )
    next_deadline: datetime | None = Field(description="The earliest of the unreported ones")
    last_report: str
    last_report_at: datetime | None
    issued_on: date | None = Field(default=None, description="The day, in Vietnam, it was issued")
    completed_at: datetime | None = Field(
        default=None, description="When the last lead unit was accepted; None until then"
    )


class PlanTaskPublic(DeadlinePublic, TaskUnits):
    id: int
    plan_id: int
    code: str
    group: str
    title: str
    leader_in_charge: str
    product: str
    authority: str
    source: str
    implements: str | None
    progress: TaskProgress | None = Field(description="The status the imported sheet gave")
    status: str = Field(description="draft, issued or done (every lead unit accepted)")
    directive_id: int | None = Field(
        default=None, description="The directive its issue started: its assignments' directive"
    )
    standing: TaskStandingPublic | None = Field(
        default=None, description="Its lead units' assignments, counted; None while a draft"
    )


class PlanTaskRow(PlanTaskPublic):
    """A task listed across plans, with its plan's number."""

    plan_code: str


class PlanTaskRowsPublic(BaseModel):
    data: list[PlanTaskRow]
    count: int


class PlanTasksPublic(BaseModel):
    data: list[PlanTaskPublic]
    count: int


class PlanTaskCreate(Request):
    code: Code
    group: str = Field(default="", max_length=MAX_GROUP)
    title: str = Field(min_length=1, max_length=5000)
    leader_in_charge: str = Field(default="", max_length=MAX_LEADER)
    lead_units: list[UnitCode] = Field(
        min_length=1, max_length=MAX_UNITS, description="Codes of units or communes"
    )
    co_units: list[UnitCode] = Field(default_factory=list, max_length=MAX_UNITS)
    product: str = Field(min_length=1, max_length=2000)
    due: str = Field(
        min_length=1,
        max_length=MAX_DUE,
        description="A date (2026-12-31 or 31/12/2026) or a deadline as offices write it "
        "(Quý II/2026, Tháng 5/2026, Năm 2026 và hằng năm đến 2030, Thường xuyên)",
    )
    authority: str = Field(default="", max_length=MAX_AUTHORITY)
    source: str = Field(default="", max_length=2000)
    implements: str | None = Field(
        default=None,
        max_length=MAX_IMPLEMENTS,
        description="The code of the higher plan's task this one implements",
    )


class RowError(BaseModel):
    row: int = Field(description="The sheet's row; 0 for the file as a whole")
    column: str = Field(description="The header as written; empty for the file or a whole row")
    message: str


class ImportedTask(DeadlinePublic, TaskUnits):
    row: int
    code: str
    group: str
    title: str
    leader_in_charge: str
    product: str
    authority: str
    source: str
    progress: TaskProgress | None


class PlanImportReport(BaseModel):
    """What a file holds and what became of it. A dry run, or a file with errors, stores
    nothing (`stored` 0)."""

    dry_run: bool
    stored: int
    task_count: int
    lead_unit_count: int = Field(description="Lead units of all tasks: the assignments to come")
    co_unit_count: int
    tasks: list[ImportedTask]
    errors: list[RowError]
    outside: list[str] = Field(description="Every partner outside the province, once")


class PlanIssue(Request):
    tasks: list[Code] | None = Field(
        default=None,
        max_length=2000,
        description="The codes of the tasks to issue; left out, every draft task of the plan",
    )


class PlanIssueReport(BaseModel):
    """What an issue started. A task the imported sheet gave as "Hoàn thành" is marked done
    and starts nothing."""

    issued: list[str] = Field(description="Codes of the tasks issued now")
    already_issued: list[str] = Field(description="Named or present tasks issued before")
    done: list[str] = Field(description="Taken over as done: no assignment")
    assignments: int = Field(description="Assignments started: one per lead unit of each task")


class ContributionCreate(Request):
    summary: str = Field(min_length=1, max_length=4000, description="The unit's part of the work")
    evidence: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=20, description="Links or document references"
    )


class ContributionPublic(BaseModel):
    id: int
    unit_code: str
    unit_name: str
    summary: str
    evidence: list[str]
    actor: str
    contributed_at: datetime


class ContributionsPublic(BaseModel):
    data: list[ContributionPublic]
    count: int
