"""The plans' pages: every plan with its number of tasks; a plan's tasks grouped by group, lead
unit or leader in charge, each with where it stands (accepted of its assignments, the
Government Office bucket, whether it needs urging) and its place in the cascade between plans;
and one's own tasks across plans. Every read and the issue go through the use cases the API's
routes call (`services.plans`, `services.plan_views`, `services.plan_issue`).

Who sees what: every signed-in person reads the plans, as through the API. On `/plans/mine` an
agency head or a commune leader sees their own unit's tasks only; anyone else picks a leader in
charge. Only the steering office issues a plan's draft tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models.plans import PlanTask
from services import plan_issue, plan_views, plans
from services.errors import ServiceError
from services.plan_schemas import PlanIssue, PlanTaskPublic
from serving.deps import SessionDep, SettingsDep, TemporalDep
from vocabulary.directives import Timeliness
from vocabulary.roles import ASSIGNEE_ROLES
from web.errors import refusal
from web.indicator_pages import unit_names
from web.plan_cascade import read_cascade
from web.render import language_of, render
from web.sessions import OfficeWeb, PageRefused, SignedIn, WebUser, check_csrf

router = APIRouter(include_in_schema=False)

DRAFT = "draft"
# The four buckets in the order the Government Office's reports give them.
BUCKETS = (Timeliness.WITHIN_DEADLINE, Timeliness.OVERDUE, Timeliness.ON_TIME, Timeliness.LATE)
BUCKET_WORDS: dict[str, tuple[str, str]] = {
    Timeliness.WITHIN_DEADLINE: ("Đang thực hiện trong hạn", "In progress, within deadline"),
    Timeliness.OVERDUE: ("Đang thực hiện quá hạn", "In progress, overdue"),
    Timeliness.ON_TIME: ("Hoàn thành đúng hạn", "Done on time"),
    Timeliness.LATE: ("Hoàn thành quá hạn", "Done late"),
    # No assignment to count: a draft, a task issued a moment ago, one taken over as done.
    "not_issued": ("Chưa ban hành", "Not issued"),
    "issuing": ("Đang ban hành", "Being issued"),
    "taken_over_done": ("Hoàn thành (trước khi tiếp nhận)", "Done before it was taken over"),
}
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "draft": ("Dự thảo", "Draft"),
    "issued": ("Đã ban hành", "Issued"),
    "done": ("Hoàn thành", "Done"),
}
GROUPINGS = {
    "group": ("Nhóm nhiệm vụ", "Group"),
    "lead_unit": ("Cơ quan chủ trì", "Lead unit"),
    "leader": ("Lãnh đạo phụ trách", "Leader in charge"),
}

# The heading of the tasks that name no group, lead unit or leader.
UNNAMED = {
    "group": ("Chưa xếp nhóm", "No group"),
    "lead_unit": ("Chưa có cơ quan chủ trì", "No lead unit"),
    "leader": ("Chưa phân công lãnh đạo", "No leader named"),
}


@dataclass(frozen=True)
class TaskGroup:
    key: str
    title: str
    tasks: list[PlanTaskPublic]


def bucket_of(task: PlanTaskPublic) -> str:
    """The key of a task's bucket words: its standing's bucket once it has assignments."""
    if task.standing is not None:
        return task.standing.timeliness.value
    if task.status == DRAFT:
        return "not_issued"
    return "issuing" if task.status == "issued" else "taken_over_done"


def bucket_counts(tasks: Sequence[PlanTaskPublic]) -> dict[str, int]:
    """How many tasks are in each of the four buckets, how many are drafts and how many need
    urging."""
    keys = [bucket_of(t) for t in tasks]
    counts = {b.value: keys.count(b.value) for b in BUCKETS}
    counts["not_issued"] = keys.count("not_issued")
    counts["needs_urging"] = sum(1 for t in tasks if t.standing and t.standing.needs_urging)
    return counts


def grouped(tasks: Sequence[PlanTaskPublic], by: str, none_title: str) -> list[TaskGroup]:
    """The tasks under their group (in the plan's order), each lead unit or each leader in
    charge (by name). A task with two lead units is listed under both."""
    groups: dict[str, TaskGroup] = {}

    def put(key: str, title: str, task: PlanTaskPublic) -> None:
        groups.setdefault(key, TaskGroup(key, title or none_title, [])).tasks.append(task)

    for task in tasks:
        if by == "group":
            put(task.group, task.group, task)
        elif by == "leader":
            put(task.leader_in_charge, task.leader_in_charge, task)
        else:
            for unit in task.lead_units:
                put(unit.code, unit.name, task)
            if not task.lead_units:
                put("", "", task)
    found = list(groups.values())
    if by != "group":
        # The unnamed last, the others by name.
        found.sort(key=lambda g: (g.key == "", g.title.casefold()))
    return found


def _words(lang: str) -> dict[str, Callable[[str], str]]:
    index = 0 if lang == "vi" else 1
    return {
        "bucket_word": lambda key: BUCKET_WORDS[key][index],
        "status_word": lambda s: STATUS_WORDS.get(s, (s, s))[index],
    }


def _is_assignee(user: WebUser) -> bool:
    return user.principal.role in ASSIGNEE_ROLES and user.commune_code is not None


def _directive_link(user: WebUser) -> Callable[[PlanTaskPublic], str | None]:
    """Where an issued task's assignments are worked: the office's directive page, or a lead
    unit's own inbox item."""

    def link(task: PlanTaskPublic) -> str | None:
        if task.directive_id is None:
            return None
        if user.is_office:
            return f"/directives/{task.directive_id}"
        if _is_assignee(user) and any(u.code == user.commune_code for u in task.lead_units):
            return f"/inbox/directives/{task.directive_id}"
        return None

    return link


async def leaders_in_charge(session: AsyncSession) -> list[str]:
    rows = await session.scalars(select(PlanTask.leader_in_charge).distinct())
    return sorted((r for r in rows if r), key=str.casefold)


def _common(request: Request, user: WebUser) -> dict[str, Any]:
    return {
        "bucket_keys": [b.value for b in BUCKETS],
        "bucket_of": bucket_of,
        "directive_link": _directive_link(user),
        **_words(language_of(request)),
    }


# --- the pages --------------------------------------------------------------------------------


@router.get("/plans")
async def plans_page(request: Request, user: SignedIn, session: SessionDep) -> Response:
    listed = await plans.list_plans(session)
    return render(request, "plans.html", user, plans=listed.data)


@router.get("/plans/mine")
async def my_tasks_page(
    request: Request,
    user: SignedIn,
    session: SessionDep,
    leader: Annotated[str, Query(max_length=200)] = "",
    urging: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    """An agency head's or commune leader's own unit's tasks across plans; for anyone else, a
    leader in charge's (or every task that needs urging)."""
    own = _is_assignee(user)
    chosen = leader.strip()
    needs_urging = True if urging == "1" else None
    rows = []
    if own or chosen or needs_urging:
        try:
            found = await plan_views.tasks_across_plans(
                session, user.principal, None, None, needs_urging
            )
        except ServiceError as e:
            raise refusal(e) from e
        # The leader as the plans write them, matched exactly: the select offers their names.
        rows = [r for r in found.data if not chosen or r.leader_in_charge == chosen]
    by_plan: dict[int, TaskGroup] = {}
    for row in rows:
        group = by_plan.setdefault(row.plan_id, TaskGroup(str(row.plan_id), row.plan_code, []))
        group.tasks.append(row)
    names = await unit_names(session)
    return render(
        request,
        "plans_mine.html",
        user,
        own=own,
        unit_name=names.get(user.commune_code or "", user.commune_code or ""),
        leaders=[] if own else await leaders_in_charge(session),
        leader=chosen,
        urging=urging == "1",
        groups=list(by_plan.values()),
        counts=bucket_counts(rows),
        total=len(rows),
        cascade=await read_cascade(session),
        **_common(request, user),
    )


@router.get("/plans/{plan_id}")
async def plan_page(
    request: Request,
    plan_id: int,
    user: SignedIn,
    session: SessionDep,
    by: Annotated[str, Query(max_length=20)] = "group",
) -> Response:
    if by not in GROUPINGS:
        raise PageRefused(422, f"Xếp theo (by) là một trong / by is one of: {', '.join(GROUPINGS)}")
    try:
        plan = await plans.read_plan(session, plan_id)
        tasks = (await plans.list_tasks(session, plan_id)).data
    except ServiceError as e:
        raise refusal(e) from e
    none_title = UNNAMED[by]
    lang = language_of(request)
    return render(
        request,
        "plan.html",
        user,
        plan=plan,
        tasks=tasks,
        by=by,
        groupings=GROUPINGS,
        groups=grouped(tasks, by, none_title[0 if lang == "vi" else 1]),
        counts=bucket_counts(tasks),
        drafts=sum(1 for t in tasks if t.status == DRAFT),
        cascade=await read_cascade(session),
        **_common(request, user),
    )


@router.post("/plans/{plan_id}/issue")
async def issue(
    plan_id: int,
    user: OfficeWeb,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Issue every draft task of the plan, as `POST /api/v1/plans/{id}/issue` does."""
    check_csrf(user, csrf)
    try:
        await plan_issue.issue_tasks(
            session, temporal, settings, user.principal, plan_id, PlanIssue()
        )
    except ServiceError as e:
        raise refusal(e) from e
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)
