"""Plans of tasks (kế hoạch): the steering office creates a plan, adds its tasks one by one or
imports its appendix from the office's spreadsheet, and exports it back; every signed-in role
reads them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from api.deps import AssigneeUser, CurrentUser, OfficeUser
from services import plan_contributions, plan_issue, plan_views, plans
from services.plan_schemas import (
    ContributionCreate,
    ContributionPublic,
    ContributionsPublic,
    PlanCreate,
    PlanImportReport,
    PlanIssue,
    PlanIssueReport,
    PlanPublic,
    PlansPublic,
    PlanTaskCreate,
    PlanTaskPublic,
    PlanTaskRowsPublic,
    PlanTasksPublic,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep
from serving.exports import XLSX_TYPE

router = APIRouter(prefix="/plans", tags=["plans"])


@router.get("")
async def list_plans(user: CurrentUser, session: SessionDep) -> PlansPublic:
    """Every plan, the latest issued first, with its number of tasks."""
    return await plans.list_plans(session)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_plan(payload: PlanCreate, user: OfficeUser, session: SessionDep) -> PlanPublic:
    """Store a plan (steering office), without tasks yet. A code another plan has is refused
    (409)."""
    return await plans.create_plan(session, user, payload)


@router.get("/tasks")
async def list_tasks_across_plans(
    user: CurrentUser,
    session: SessionDep,
    leader_in_charge: Annotated[
        str | None, Query(description="Part of the leader's name or title, as plans write it")
    ] = None,
    lead_unit: Annotated[str | None, Query(description="A unit's or commune's code")] = None,
    needs_urging: Annotated[
        bool | None, Query(description="Only the tasks that need urging (cần đôn đốc)")
    ] = None,
) -> PlanTaskRowsPublic:
    """Issued and draft tasks of every plan: a committee leader's own (`leader_in_charge`), an
    agency's (`lead_unit`; an agency head or commune leader sees their own only), or those
    that need urging."""
    return await plan_views.tasks_across_plans(
        session, user, leader_in_charge, lead_unit, needs_urging
    )


@router.post("/{plan_id}/issue")
async def issue_plan_tasks(
    plan_id: int,
    user: OfficeUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    payload: PlanIssue | None = None,
) -> PlanIssueReport:
    """Issue the plan's draft tasks, or those named (steering office): each task starts one
    assignment per lead unit, with reminders and the ladder head → leader in charge → office.
    A task with no lead unit, no product or no deadline refuses the whole issue (422, each
    task and what it lacks in `state.errors`); a task the imported sheet gave as done is
    marked done and starts nothing; a task issued before is left as it is."""
    return await plan_issue.issue_tasks(
        session, temporal, settings, user, plan_id, payload or PlanIssue()
    )


@router.post("/{plan_id}/tasks/{code}/contributions", status_code=status.HTTP_201_CREATED)
async def add_contribution(
    plan_id: int, code: str, payload: ContributionCreate, user: AssigneeUser, session: SessionDep
) -> ContributionPublic:
    """A co-ordinating unit's part of an issued task, with its evidence (the unit's agency head
    or commune leader). A lead unit reports through its assignment (403), as does any unit the
    task does not name (403); a draft task answers 409."""
    return await plan_contributions.contribute(session, user, plan_id, code, payload)


@router.get("/{plan_id}/tasks/{code}/contributions")
async def list_contributions(
    plan_id: int, code: str, user: CurrentUser, session: SessionDep
) -> ContributionsPublic:
    """The contributions of a task's co-ordinating units, oldest first."""
    return await plan_contributions.list_contributions(session, plan_id, code)


@router.get("/{plan_id}")
async def get_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> PlanPublic:
    return await plans.read_plan(session, plan_id)


@router.get("/{plan_id}/tasks")
async def list_plan_tasks(
    plan_id: int,
    user: CurrentUser,
    session: SessionDep,
    group: Annotated[str | None, Query(description="The group as written")] = None,
    lead_unit: Annotated[str | None, Query(description="A unit's or commune's code")] = None,
    leader_in_charge: Annotated[str | None, Query(description="As the plan writes it")] = None,
) -> PlanTasksPublic:
    """The plan's tasks in its order, each with its lead and co-ordinating units (codes and
    names), outside partners, deadline as written and as dates, its period and last day."""
    return await plans.list_tasks(session, plan_id, group, lead_unit, leader_in_charge)


@router.post("/{plan_id}/tasks", status_code=status.HTTP_201_CREATED)
async def add_plan_task(
    plan_id: int, payload: PlanTaskCreate, user: OfficeUser, session: SessionDep
) -> PlanTaskPublic:
    """Add one task (steering office), stored as a draft. Unit codes no unit or commune has,
    or a deadline that cannot be read, answer 422 naming them; a code the plan has, 409."""
    return await plans.add_task(session, plan_id, payload)


@router.post("/{plan_id}/import")
async def import_plan_tasks(
    plan_id: int,
    file: Annotated[UploadFile, File(description="The appendix as an .xlsx")],
    user: OfficeUser,
    session: SessionDep,
    dry_run: Annotated[bool, Query(description="Answer the report and store nothing")] = False,
) -> PlanImportReport:
    """Read the appendix's first sheet (steering office): the header row under any title, its
    columns by their Vietnamese names; each task's units resolved and deadline read. With
    `dry_run=true` the report is answered and nothing stored. Otherwise a file with any row
    error is refused whole (422, every error with its row and column in `state.errors`) and a
    clean one is stored in one go, every task a draft."""
    content = await file.read()
    return await plans.import_tasks(session, plan_id, content, dry_run)


@router.get(
    "/{plan_id}/export",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "The plan as an .xlsx"}},
)
async def export_plan(
    plan_id: int,
    user: CurrentUser,
    session: SessionDep,
    format: Literal["xlsx"] = "xlsx",
) -> Response:
    """The plan as the office sends it up: the import's columns, then status, timeliness, the
    last report and the dates, one row per task."""
    export = await plans.export_plan(session, plan_id)
    return Response(
        export.content,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )
