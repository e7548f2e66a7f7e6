"""Plans of tasks (kế hoạch) as use cases: create, list and read a plan; list its tasks with
their units, deadlines and partners; add one task; import the appendix from the office's
spreadsheet (a dry run answers the report and stores nothing; a file with any row error is
refused whole; a clean file is stored all or nothing); export it back as a spreadsheet.

Tasks are stored `draft`: issuing one (its assignments) is a step of its own."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.communes import DAK_LAK
from db.models import Commune as CommuneRow
from db.models import Unit as UnitRow
from db.models.plans import Plan, PlanTask, PlanTaskPartner, PlanTaskUnit
from services.errors import Conflict, Invalid, NotFound
from services.plan_progress import TaskStanding, local_day, standings
from services.plan_schemas import (
    MAX_AUTHORITY,
    MAX_DUE,
    MAX_GROUP,
    MAX_LEADER,
    MAX_TASK_CODE,
    DeadlinePublic,
    ImportedTask,
    PlanCreate,
    PlanImportReport,
    PlanPublic,
    PlansPublic,
    PlanTaskCreate,
    PlanTaskPublic,
    PlanTasksPublic,
    RecurrencePublic,
    RowError,
    TaskStandingPublic,
    UnitRef,
)
from services.plan_sheet import (
    COLUMNS,
    PlanSheetExportRow,
    TaskProgress,
    TaskRow,
    read_plan_sheet,
    write_plan_sheet,
)
from services.principals import Principal
from services.sheets import SheetError, UnreadableSheet, read_table
from services.units import unit_directory
from vocabulary.deadline_text import (
    Deadline,
    DeadlineTextError,
    Recurrence,
    ReportEvery,
    parse_deadline,
)
from vocabulary.text import without_diacritics

DRAFT = "draft"
DONE = "done"
LEAD = "lead"
CO = "co"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The stored columns' widths, by the sheet field that fills them.
_WIDTHS = {
    "code": MAX_TASK_CODE,
    "group": MAX_GROUP,
    "leader_in_charge": MAX_LEADER,
    "authority": MAX_AUTHORITY,
    "due": MAX_DUE,
}


@dataclass(frozen=True)
class PlanExport:
    """A plan as a spreadsheet to download, with the name the office files it under."""

    filename: str
    content: bytes


# ---- plans -------------------------------------------------------------------------------------


def _plan_public(plan: Plan, task_count: int) -> PlanPublic:
    return PlanPublic(
        id=plan.id,
        code=plan.code,
        title=plan.title,
        issued_on=plan.issued_on,
        source=plan.source,
        task_count=task_count,
        created_at=plan.created_at,
        created_by=plan.created_by,
    )


async def _task_count(session: AsyncSession, plan_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(PlanTask).where(PlanTask.plan_id == plan_id)
    )
    return int(count or 0)


async def _load_plan(session: AsyncSession, plan_id: int) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} not found")
    return plan


async def create_plan(session: AsyncSession, user: Principal, payload: PlanCreate) -> PlanPublic:
    """Store a plan, with no tasks yet. Its code is its document number: one plan a number."""
    taken = await session.scalar(select(Plan.id).where(Plan.code == payload.code))
    if taken is not None:
        raise Conflict(f"the code {payload.code} is already the code of plan {taken}")
    plan = Plan(
        code=payload.code,
        title=payload.title,
        issued_on=payload.issued_on,
        source=payload.source,
        created_at=datetime.now(UTC),
        created_by=user.actor,
    )
    session.add(plan)
    try:
        await session.commit()
    except IntegrityError as e:
        # Two offices storing the same number at once: the second is told, not answered 500.
        await session.rollback()
        raise Conflict(f"the code {payload.code} was given to another plan just now") from e
    return _plan_public(plan, 0)


async def list_plans(session: AsyncSession) -> PlansPublic:
    """Every plan, the latest issued first, with how many tasks each holds."""
    grouped = select(PlanTask.plan_id, func.count()).group_by(PlanTask.plan_id)
    counts = {plan_id: int(count) for plan_id, count in await session.execute(grouped)}
    plans = await session.scalars(select(Plan).order_by(Plan.issued_on.desc(), Plan.id.desc()))
    data = [_plan_public(p, counts.get(p.id, 0)) for p in plans]
    return PlansPublic(data=data, count=len(data))


async def read_plan(session: AsyncSession, plan_id: int) -> PlanPublic:
    plan = await _load_plan(session, plan_id)
    return _plan_public(plan, await _task_count(session, plan_id))


# ---- tasks -------------------------------------------------------------------------------------


async def unit_names(session: AsyncSession) -> dict[str, str]:
    """Every unit (inactive ones too: a stored task keeps naming them) and commune by code."""
    units = await session.execute(select(UnitRow.code, UnitRow.name))
    communes = await session.execute(
        select(CommuneRow.code, CommuneRow.name).where(CommuneRow.province_code == str(DAK_LAK))
    )
    return {code: name for code, name in (*units, *communes)}


def _refs(codes: Iterable[str], names: dict[str, str]) -> list[UnitRef]:
    return [UnitRef(code=c, name=names.get(c, c)) for c in codes]


def _deadline_public(deadline: Deadline) -> DeadlinePublic:
    recurrence = deadline.recurrence
    return DeadlinePublic(
        due=deadline.text,
        milestones=list(deadline.milestones),
        recurrence=None
        if recurrence is None
        else RecurrencePublic(every=recurrence.every, until_year=recurrence.until_year),
        final_due=deadline.final,
    )


async def list_tasks(
    session: AsyncSession,
    plan_id: int,
    group: str | None = None,
    lead_unit: str | None = None,
    leader_in_charge: str | None = None,
) -> PlanTasksPublic:
    """A plan's tasks in the order they were stored (an imported sheet's order), each with its
    lead and co-ordinating units by code and name, its partners and its deadline; by group, by
    lead unit or by leader in charge when asked."""
    await _load_plan(session, plan_id)
    query = select(PlanTask).where(PlanTask.plan_id == plan_id).order_by(PlanTask.id)
    if group is not None:
        query = query.where(PlanTask.group == group)
    if leader_in_charge is not None:
        query = query.where(PlanTask.leader_in_charge == leader_in_charge)
    if lead_unit is not None:
        query = query.where(
            PlanTask.id.in_(
                select(PlanTaskUnit.task_id).where(
                    PlanTaskUnit.role == LEAD, PlanTaskUnit.unit_code == lead_unit
                )
            )
        )
    data = await tasks_public(session, list(await session.scalars(query)))
    return PlanTasksPublic(data=data, count=len(data))


async def tasks_public(session: AsyncSession, tasks: list[PlanTask]) -> list[PlanTaskPublic]:
    """The tasks with their units and partners, read in two queries whatever their number."""
    ids = [t.id for t in tasks]
    units: dict[tuple[int, str], list[str]] = {}
    partners: dict[tuple[int, str], list[str]] = {}
    if ids:
        unit_rows = await session.execute(
            select(PlanTaskUnit.task_id, PlanTaskUnit.role, PlanTaskUnit.unit_code)
            .where(PlanTaskUnit.task_id.in_(ids))
            .order_by(PlanTaskUnit.task_id, PlanTaskUnit.role, PlanTaskUnit.position)
        )
        for task_id, role, code in unit_rows:
            units.setdefault((task_id, role), []).append(code)
        partner_rows = await session.execute(
            select(PlanTaskPartner.task_id, PlanTaskPartner.role, PlanTaskPartner.name)
            .where(PlanTaskPartner.task_id.in_(ids))
            .order_by(PlanTaskPartner.task_id, PlanTaskPartner.role, PlanTaskPartner.position)
        )
        for task_id, role, name in partner_rows:
            partners.setdefault((task_id, role), []).append(name)
    names = await unit_names(session)
    standing = await standings(
        session,
        {t.id: t.directive_id for t in tasks if t.directive_id is not None},
        datetime.now(UTC),
    )
    return [
        PlanTaskPublic(
            id=t.id,
            plan_id=t.plan_id,
            code=t.code,
            group=t.group,
            title=t.title,
            leader_in_charge=t.leader_in_charge,
            lead_units=_refs(units.get((t.id, LEAD), []), names),
            co_units=_refs(units.get((t.id, CO), []), names),
            lead_partners=partners.get((t.id, LEAD), []),
            co_partners=partners.get((t.id, CO), []),
            product=t.product,
            authority=t.authority,
            source=t.source,
            implements=t.implements,
            progress=None if t.progress is None else TaskProgress(t.progress),
            status=DONE if t.id in standing and standing[t.id].done else t.status,
            directive_id=t.directive_id,
            standing=_standing_public(standing.get(t.id)),
            **_deadline_public(_stored_deadline(t)).model_dump(),
        )
        for t in tasks
    ]


def _standing_public(standing: TaskStanding | None) -> TaskStandingPublic | None:
    if standing is None:
        return None
    return TaskStandingPublic(
        assignments=standing.total,
        accepted=standing.accepted,
        reported=standing.reported,
        overdue=standing.overdue,
        timeliness=standing.timeliness,
        needs_urging=standing.needs_urging,
        next_deadline=standing.next_deadline,
        last_report=standing.last_report,
        last_report_at=standing.last_report_at,
        issued_on=standing.issued_on,
        completed_at=standing.completed_at,
    )


def _stored_deadline(task: PlanTask) -> Deadline:
    recurrence = (
        None
        if task.recurrence_every is None
        else Recurrence(ReportEvery(task.recurrence_every), task.recurrence_until_year)
    )
    return Deadline(
        task.due_text, tuple(date.fromisoformat(d) for d in task.milestones), recurrence
    )


@dataclass(frozen=True)
class _NewTask:
    """A task ready to store, whichever way it came: a request or a row of the sheet."""

    code: str
    group: str
    title: str
    leader_in_charge: str
    product: str
    authority: str
    source: str
    due: Deadline
    lead_units: Sequence[str]
    co_units: Sequence[str]
    lead_partners: Sequence[str] = ()
    co_partners: Sequence[str] = ()
    progress: TaskProgress | None = None
    implements: str | None = None


async def _store_tasks(session: AsyncSession, plan_id: int, tasks: Sequence[_NewTask]) -> int:
    """Insert the tasks with their units and partners in the session's transaction; the caller
    commits. Returns how many."""
    now = datetime.now(UTC)
    rows = [
        PlanTask(
            plan_id=plan_id,
            code=t.code,
            group=t.group,
            title=t.title,
            leader_in_charge=t.leader_in_charge,
            product=t.product,
            authority=t.authority,
            source=t.source,
            due_text=t.due.text,
            milestones=[d.isoformat() for d in t.due.milestones],
            recurrence_every=None if t.due.recurrence is None else t.due.recurrence.every.value,
            recurrence_until_year=None if t.due.recurrence is None else t.due.recurrence.until_year,
            final_due=t.due.final,
            progress=None if t.progress is None else t.progress.value,
            status=DRAFT,
            implements=t.implements,
            created_at=now,
        )
        for t in tasks
    ]
    session.add_all(rows)
    await session.flush()
    units = [
        {"task_id": row.id, "role": role, "unit_code": code, "position": position}
        for row, task in zip(rows, tasks, strict=True)
        for role, codes in ((LEAD, task.lead_units), (CO, task.co_units))
        for position, code in enumerate(codes)
    ]
    partners = [
        {"task_id": row.id, "role": role, "name": name, "position": position}
        for row, task in zip(rows, tasks, strict=True)
        for role, names in ((LEAD, task.lead_partners), (CO, task.co_partners))
        for position, name in enumerate(names)
    ]
    if units:
        await session.execute(insert(PlanTaskUnit), units)
    if partners:
        await session.execute(insert(PlanTaskPartner), partners)
    return len(rows)


async def _commit_tasks(session: AsyncSession, plan_id: int, tasks: Sequence[_NewTask]) -> int:
    try:
        stored = await _store_tasks(session, plan_id, tasks)
        await session.commit()
    except IntegrityError as e:
        # Another request stored one of these codes between the check and the insert.
        await session.rollback()
        raise Conflict(
            "a task of the same code was stored in this plan just now; nothing was stored"
        ) from e
    return stored


async def _codes_in_plan(session: AsyncSession, plan_id: int) -> set[str]:
    return set(await session.scalars(select(PlanTask.code).where(PlanTask.plan_id == plan_id)))


def _deadline(text: str) -> Deadline:
    """A date (ISO, as JSON writes one) or a deadline as offices write it."""
    if _ISO_DATE.fullmatch(text):
        try:
            return Deadline(text, (date.fromisoformat(text),), None)
        except ValueError as e:
            raise Invalid(f"due: {text!r} is not a date: {e}") from e
    try:
        return parse_deadline(text)
    except DeadlineTextError as e:
        raise Invalid(f"due: {e}") from e


async def add_task(session: AsyncSession, plan_id: int, payload: PlanTaskCreate) -> PlanTaskPublic:
    """Add one task to a plan, as a draft. Its units are codes of the province's active units
    and communes; a code given twice counts once."""
    await _load_plan(session, plan_id)
    due = _deadline(payload.due)
    lead = list(dict.fromkeys(payload.lead_units))
    co = [c for c in dict.fromkeys(payload.co_units) if c not in lead]
    directory_codes = await _active_codes(session)
    unknown = [c for c in dict.fromkeys((*lead, *co)) if c not in directory_codes]
    if unknown:
        raise Invalid(f"no unit or commune has the code {', '.join(unknown)}")
    if payload.code in await _codes_in_plan(session, plan_id):
        raise Conflict(f"the plan already has a task {payload.code}")
    task = _NewTask(
        code=payload.code,
        group=payload.group,
        title=payload.title,
        leader_in_charge=payload.leader_in_charge,
        product=payload.product,
        authority=payload.authority,
        source=payload.source,
        due=due,
        lead_units=lead,
        co_units=co,
        implements=payload.implements,
    )
    await _commit_tasks(session, plan_id, [task])
    stored = await session.scalars(
        select(PlanTask).where(PlanTask.plan_id == plan_id, PlanTask.code == payload.code)
    )
    return (await tasks_public(session, list(stored)))[0]


async def _active_codes(session: AsyncSession) -> set[str]:
    units = await session.scalars(select(UnitRow.code).where(UnitRow.active))
    communes = await session.scalars(
        select(CommuneRow.code).where(CommuneRow.province_code == str(DAK_LAK))
    )
    return {*units, *communes}


# ---- import ------------------------------------------------------------------------------------


def _headers(content: bytes) -> dict[str, str]:
    """The file's headers by field, as written ("STT", "Mã")."""
    try:
        return dict(read_table(content, COLUMNS).headers)
    except UnreadableSheet:
        return {}


def _stored_errors(
    content: bytes, tasks: Sequence[TaskRow], codes_in_plan: set[str]
) -> list[SheetError]:
    """What the sheet reader accepts but the plan cannot store: a task without a code (reports
    name tasks by it), a code the plan already has, a cell longer than its column holds."""
    found: list[tuple[int, str, str]] = []
    for task in tasks:
        if not task.code:
            found.append((task.row, "code", "No code: number the task, so reports can name it"))
        elif task.code in codes_in_plan:
            found.append(
                (task.row, "code", f"The plan already has a task {task.code}: nothing replaced")
            )
        for field, width in _WIDTHS.items():
            text = task.due.text if field == "due" else str(getattr(task, field))
            if len(text) > width:
                found.append(
                    (task.row, field, f"The cell holds {len(text)} characters; at most {width} fit")
                )
    if not found:
        return []
    # Read once more for the headers as written, only when there is an error to name them in.
    headers = _headers(content)
    names = {c.field: c.name for c in COLUMNS}
    return [
        SheetError(row, headers.get(field, names[field]), message) for row, field, message in found
    ]


def _imported(task: TaskRow, names: dict[str, str]) -> ImportedTask:
    return ImportedTask(
        row=task.row,
        code=task.code,
        group=task.group,
        title=task.title,
        leader_in_charge=task.leader_in_charge,
        product=task.product,
        authority=task.authority,
        source=task.source,
        progress=task.status,
        lead_units=_refs(task.lead.units, names),
        co_units=_refs(task.co.units, names),
        lead_partners=list(task.lead.outside),
        co_partners=list(task.co.outside),
        **_deadline_public(task.due).model_dump(),
    )


def _new_task(task: TaskRow) -> _NewTask:
    # A unit both leading and co-ordinating is a lead unit only.
    co = [c for c in task.co.units if c not in task.lead.units]
    return _NewTask(
        code=task.code,
        group=task.group,
        title=task.title,
        leader_in_charge=task.leader_in_charge,
        product=task.product,
        authority=task.authority,
        source=task.source,
        due=task.due,
        lead_units=task.lead.units,
        co_units=co,
        lead_partners=task.lead.outside,
        co_partners=task.co.outside,
        progress=task.status,
    )


async def import_tasks(
    session: AsyncSession, plan_id: int, content: bytes, dry_run: bool
) -> PlanImportReport:
    """Read the office's .xlsx into the plan's tasks. A dry run answers the whole report and
    stores nothing. Otherwise a file with any error is refused whole (Invalid, every error in
    its state) and a clean one is stored in one transaction, each task a draft."""
    await _load_plan(session, plan_id)
    sheet = read_plan_sheet(content, await unit_directory(session))
    extra = _stored_errors(content, sheet.tasks, await _codes_in_plan(session, plan_id))
    errors = sorted([*sheet.errors, *extra], key=lambda e: e.row)
    names = await unit_names(session)
    report = PlanImportReport(
        dry_run=dry_run,
        stored=0,
        task_count=len(sheet.tasks),
        lead_unit_count=sum(len(t.lead.units) for t in sheet.tasks),
        co_unit_count=sum(len(_new_task(t).co_units) for t in sheet.tasks),
        tasks=[_imported(t, names) for t in sheet.tasks],
        errors=[RowError(row=e.row, column=e.column, message=e.message) for e in errors],
        outside=list(sheet.outside),
    )
    if dry_run:
        return report
    if errors:
        raise Invalid(
            f"the file has {len(errors)} error{'s' if len(errors) > 1 else ''}; nothing was "
            "stored: correct them and send it again",
            details={"errors": [e.model_dump() for e in report.errors]},
        )
    stored = await _commit_tasks(session, plan_id, [_new_task(t) for t in sheet.tasks])
    return report.model_copy(update={"stored": stored})


# ---- export ------------------------------------------------------------------------------------


def _progress(task: PlanTaskPublic) -> TaskProgress:
    if task.status == DONE:
        return TaskProgress.DONE
    if task.standing is not None:
        return TaskProgress.IN_PROGRESS
    return task.progress or TaskProgress.NOT_STARTED


def export_filename(code: str) -> str:
    """The file's name from the plan's number, in letters a download header carries:
    "125/KH-UBND" is "ke-hoach-125-KH-UBND"."""
    plain = re.sub(r"[^A-Za-z0-9]+", "-", without_diacritics(code)).strip("-")
    return f"ke-hoach-{plain or 'plan'}"


async def export_plan(session: AsyncSession, plan_id: int) -> PlanExport:
    """The plan as the office sends it up: the import's columns, units by their names and
    partners as written after them, and each task's status."""
    plan = await _load_plan(session, plan_id)
    tasks = await list_tasks(session, plan_id)
    rows = [
        PlanSheetExportRow(
            code=t.code,
            group=t.group,
            title=t.title,
            leader_in_charge=t.leader_in_charge,
            lead_units=(*(u.name for u in t.lead_units), *t.lead_partners),
            co_units=(*(u.name for u in t.co_units), *t.co_partners),
            product=t.product,
            due=t.due,
            authority=t.authority,
            source=t.source,
            status=_progress(t),
            timeliness=t.standing.timeliness if t.standing else None,
            last_report=t.standing.last_report if t.standing else "",
            last_report_on=local_day(t.standing.last_report_at) if t.standing else None,
            issued_on=t.standing.issued_on if t.standing else None,
            completed_on=local_day(t.standing.completed_at) if t.standing else None,
        )
        for t in tasks.data
    ]
    return PlanExport(f"{export_filename(plan.code)}.xlsx", write_plan_sheet(rows))
