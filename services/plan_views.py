"""The tasks of every plan seen from one place: a committee leader's own (the leader in charge
the plans name), an agency's or a commune's (its lead tasks), those that need urging. An agency
head or a commune leader sees their own unit's only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models.plans import Plan, PlanTask, PlanTaskUnit
from services.plan_schemas import PlanTaskRow, PlanTaskRowsPublic
from services.plans import LEAD, tasks_public
from services.principals import Principal
from vocabulary.unit_names import normalize

# A list across plans stops here; a province's plans hold a few hundred tasks.
MAX_ROWS = 2000


async def tasks_across_plans(
    session: AsyncSession,
    user: Principal,
    leader_in_charge: str | None,
    lead_unit: str | None,
    needs_urging: bool | None,
) -> PlanTaskRowsPublic:
    lead_unit = user.commune_filter(lead_unit)
    query = (
        select(PlanTask, Plan.code)
        .join(Plan, Plan.id == PlanTask.plan_id)
        .order_by(Plan.issued_on.desc(), Plan.id, PlanTask.id)
        .limit(MAX_ROWS)
    )
    if lead_unit is not None:
        query = query.where(
            PlanTask.id.in_(
                select(PlanTaskUnit.task_id).where(
                    PlanTaskUnit.role == LEAD, PlanTaskUnit.unit_code == lead_unit
                )
            )
        )
    found = [(task, code) for task, code in await session.execute(query)]
    if leader_in_charge and (wanted := normalize(leader_in_charge)):
        # Matched on the folded form, as unit names are: SQLite's lower() leaves "Đ" as it is.
        found = [(t, code) for t, code in found if wanted in normalize(t.leader_in_charge)]
    plan_codes = {task.id: code for task, code in found}
    rows = [
        PlanTaskRow(**t.model_dump(), plan_code=plan_codes[t.id])
        for t in await tasks_public(session, [task for task, _ in found])
    ]
    if needs_urging is not None:
        rows = [
            r for r in rows if (r.standing is not None and r.standing.needs_urging) == needs_urging
        ]
    return PlanTaskRowsPublic(data=rows, count=len(rows))
