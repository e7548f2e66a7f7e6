"""What a task's co-ordinating units add to it: a co-ordinating unit's head (an agency head or a
commune leader) sends the unit's part of the work with its evidence; everyone signed in reads
them beside the lead units' reports. A lead unit reports through its assignment instead."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models.plans import Plan, PlanTask, PlanTaskContribution, PlanTaskUnit
from services.errors import Conflict, Forbidden, NotFound
from services.plan_schemas import ContributionCreate, ContributionPublic, ContributionsPublic
from services.plans import unit_names
from services.principals import Principal, require_role
from vocabulary.roles import ASSIGNEE_ROLES

CO = "co"
LEAD = "lead"


async def _task(session: AsyncSession, plan_id: int, code: str) -> PlanTask:
    task = await session.scalar(
        select(PlanTask).where(PlanTask.plan_id == plan_id, PlanTask.code == code)
    )
    if task is None:
        plan = await session.get(Plan, plan_id)
        if plan is None:
            raise NotFound(f"plan {plan_id} not found")
        raise NotFound(f"plan {plan.code} has no task {code}")
    return task


def _public(row: PlanTaskContribution, names: dict[str, str]) -> ContributionPublic:
    return ContributionPublic(
        id=row.id,
        unit_code=row.unit_code,
        unit_name=names.get(row.unit_code, row.unit_code),
        summary=row.summary,
        evidence=list(row.evidence),
        actor=row.actor,
        contributed_at=row.contributed_at,
    )


async def contribute(
    session: AsyncSession,
    user: Principal,
    plan_id: int,
    code: str,
    payload: ContributionCreate,
) -> ContributionPublic:
    """Store a co-ordinating unit's contribution to an issued task."""
    require_role(user, *ASSIGNEE_ROLES)
    task = await _task(session, plan_id, code)
    roles = set(
        await session.scalars(
            select(PlanTaskUnit.role).where(
                PlanTaskUnit.task_id == task.id, PlanTaskUnit.unit_code == user.commune_code
            )
        )
    )
    if LEAD in roles:
        raise Forbidden("a lead unit reports on the task through its assignment")
    if CO not in roles:
        raise Forbidden("only the task's co-ordinating units add a contribution")
    if task.directive_id is None:
        raise Conflict(f"task {code} is not issued yet")
    assert user.commune_code is not None  # an assignee's unit, checked above
    row = PlanTaskContribution(
        task_id=task.id,
        unit_code=user.commune_code,
        summary=payload.summary,
        evidence=list(payload.evidence),
        actor=user.actor,
        contributed_at=datetime.now(UTC),
    )
    session.add(row)
    await session.commit()
    return _public(row, await unit_names(session))


async def list_contributions(session: AsyncSession, plan_id: int, code: str) -> ContributionsPublic:
    task = await _task(session, plan_id, code)
    rows = list(
        await session.scalars(
            select(PlanTaskContribution)
            .where(PlanTaskContribution.task_id == task.id)
            .order_by(PlanTaskContribution.id)
        )
    )
    names = await unit_names(session)
    return ContributionsPublic(data=[_public(r, names) for r in rows], count=len(rows))
