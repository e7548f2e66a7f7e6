"""The cascade between plans, as the plan pages draw it: a task that implements a higher plan's
task links up to it, and the tasks of lower plans that implement it are listed under it.

A task names the task it implements by code, as the office writes it: "57-NQ/TW:III.6" (the
higher document's number, a colon, its task's code) or the bare code "12". The named task is
looked for among the other stored plans: by plan number and code when both are written, else by
code alone, kept only if this plan's `source` names one plan among several that have that code.
A name that finds no stored task, or finds several with nothing to choose between them, is the
code of a plan that is not stored here (a central one) or an ambiguous one, and is shown as
text. One rule reads both ways, so a task listed under another is the one it links up to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models.plans import Plan, PlanTask


@dataclass(frozen=True)
class TaskLink:
    """A task of a stored plan, as a link: its plan's number and its own code and title."""

    task_id: int
    plan_id: int
    plan_code: str
    code: str
    title: str


@dataclass(frozen=True)
class PlanHead:
    id: int
    code: str
    source: str


@dataclass(frozen=True)
class Cascade:
    """For each task id: the higher task it implements, and the lower tasks implementing it."""

    up: dict[int, TaskLink]
    down: dict[int, list[TaskLink]]


def higher_task(
    plan_id: int,
    implements: str,
    plans: dict[int, PlanHead],
    by_code: dict[str, list[TaskLink]],
) -> TaskLink | None:
    """The stored task `implements` names, seen from a task of plan `plan_id`; None when no
    stored task, or more than one, answers to it."""
    name = implements.strip()
    prefix, colon, code = name.rpartition(":")
    if colon and prefix.strip():
        named = [
            t
            for t in by_code.get(code.strip(), [])
            if t.plan_code == prefix.strip() and t.plan_id != plan_id
        ]
        if len(named) == 1:
            return named[0]
    candidates = [t for t in by_code.get(name, []) if t.plan_id != plan_id]
    if len(candidates) > 1:
        # The plan's own basis ("Thực hiện Kế hoạch 125/KH-UBND…") chooses between them.
        source = plans[plan_id].source if plan_id in plans else ""
        candidates = [t for t in candidates if t.plan_code in source]
    return candidates[0] if len(candidates) == 1 else None


def cascade_of(plans: dict[int, PlanHead], tasks: Iterable[tuple[TaskLink, str | None]]) -> Cascade:
    """The links between every stored task (each with what it implements)."""
    listed = list(tasks)
    by_code: dict[str, list[TaskLink]] = {}
    for link, _ in listed:
        by_code.setdefault(link.code, []).append(link)
    up: dict[int, TaskLink] = {}
    down: dict[int, list[TaskLink]] = {}
    for link, implements in listed:
        if not implements:
            continue
        found = higher_task(link.plan_id, implements, plans, by_code)
        if found is not None:
            up[link.task_id] = found
            down.setdefault(found.task_id, []).append(link)
    return Cascade(up=up, down=down)


async def read_cascade(session: AsyncSession) -> Cascade:
    """The cascade across every stored plan: two narrow queries, a province's plans holding a
    few thousand tasks at most."""
    plans = {
        row.id: PlanHead(row.id, row.code, row.source)
        for row in await session.execute(select(Plan.id, Plan.code, Plan.source))
    }
    rows = await session.execute(
        select(
            PlanTask.id, PlanTask.plan_id, PlanTask.code, PlanTask.title, PlanTask.implements
        ).order_by(PlanTask.plan_id, PlanTask.id)
    )
    tasks = [
        (TaskLink(task_id, plan_id, plans[plan_id].code, code, title), implements)
        for task_id, plan_id, code, title, implements in rows
    ]
    return cascade_of(plans, tasks)
