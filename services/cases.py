"""What dossiers and feedback share: the province's communes they may name, the receipt codes
they are stored under, their timelines, and the one way a step reaches their workflow."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from config import Settings
from db.communes import DAK_LAK
from db.models import Commune, DossierEventRow, FeedbackEventRow
from services.case_schemas import CaseEventPublic
from services.errors import Invalid
from services.workflow_calls import refused_as, send_update, start_or_join

T = TypeVar("T")
# A new receipt code is drawn this many times when one collides (1 in 2^60) before giving up.
RECEIPT_ATTEMPTS = 5


async def commune_of_province(session: AsyncSession, code: str) -> Commune:
    commune = await session.get(Commune, code)
    if commune is None or commune.province_code != str(DAK_LAK):
        raise Invalid(f"unknown commune code: {code}")
    return commune


async def start_case(
    client: Client, settings: Settings, workflow: Any, argument: object, workflow_id: str
) -> None:
    """Start (or find running) a case's workflow; safe to call any number of times."""
    await start_or_join(
        client,
        workflow,
        argument,
        workflow_id=workflow_id,
        task_queue=settings.task_queue,
        unstarted=lambda reason: (
            f"{workflow_id} is stored but could not be started yet ({reason}); repeat the"
            " request to start it"
        ),
    )


async def send_step(call: Awaitable[T], what: str) -> T:
    """One update to a case's workflow: a refusal is `Refused`, a finished workflow too."""
    return await send_update(call, closed=refused_as(f"{what} is closed"))


async def _timeline(
    session: AsyncSession, row: Any, owner: Any, case_id: int
) -> list[CaseEventPublic]:
    """A case's events in the order its workflow wrote them."""
    rows = await session.scalars(select(row).where(owner == case_id).order_by(row.seq))
    return [
        CaseEventPublic(seq=e.seq, kind=e.kind, at=e.at, actor=e.actor, detail=e.detail)
        for e in rows
    ]


async def dossier_events(session: AsyncSession, dossier_id: int) -> list[CaseEventPublic]:
    return await _timeline(session, DossierEventRow, DossierEventRow.dossier_id, dossier_id)


async def feedback_events(session: AsyncSession, feedback_id: int) -> list[CaseEventPublic]:
    return await _timeline(session, FeedbackEventRow, FeedbackEventRow.feedback_id, feedback_id)
