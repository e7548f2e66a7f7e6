"""The commune criteria board of a group: the 102 communes × the group's commune-scoped criteria,
the number each commune meets, the communes that meet them all, and the ranking.

Every signed-in role reads it; a commune leader sees their own commune's row (with its rank among
all) and the province's totals. Registered before `indicators.router`, whose `/{code}` would take
"criteria" for an indicator's code. "Today" is the indicators' clock (`indicators.clock`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser
from api.error_schemas import ErrorBody
from api.routes.indicators import NowDep
from services import indicator_criteria
from services.indicator_criteria import CriteriaBoard
from serving.deps import SessionDep

router = APIRouter(prefix="/indicators", tags=["indicators"])


@router.get(
    "/criteria",
    responses={
        404: {"model": ErrorBody, "description": "No commune-scoped indicator in the group"}
    },
)
async def get_criteria(
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    group: Annotated[str, Query(min_length=1, max_length=200, description="The criteria's group")],
) -> CriteriaBoard:
    """Per commune and criterion the latest accepted value, its date, met or not and the
    series' colour; per commune the number met, fully green (all met) and the rank (by the
    number met, ties share a rank: 1, 2, 2, 4); the communes fully green and, per criterion, the
    communes meeting it. A number is met when its latest accepted value reaches the target of the
    milestone in force (the next one; a range from its near end on), a yes/no criterion at 1."""
    return await indicator_criteria.criteria_board(session, user, group, now)
