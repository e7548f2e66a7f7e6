"""Opening a period of a plan's task reported every period, for its schedule: the period and
its directive are stored once (`db.plan_periods.open_task_period`, as the office's issue stores
the first), then the directive's workflow is started or found running."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client

from activities.directive_starts import fixed_deadline_input, start_here
from db.plan_periods import open_task_period
from vocabulary.calendar import VIETNAM
from vocabulary.directives import DirectiveStatus
from vocabulary.plan_periods import task_schedule_id
from workflows.plan_task_period_types import (
    OPEN_PLAN_TASK_PERIOD,
    OpenedPlanTaskPeriod,
    OpenPlanTaskPeriodInput,
)
from workflows.types import IssueDirectiveInput


class PlanTaskPeriodActivities:
    def __init__(self, engine: Engine, client: Client) -> None:
        self._engine = engine
        self._client = client

    def _store(
        self, request: OpenPlanTaskPeriodInput
    ) -> tuple[OpenedPlanTaskPeriod, IssueDirectiveInput | None]:
        day = request.at.astimezone(VIETNAM).date()
        actor = f"schedule:{task_schedule_id(request.task_id)}"
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                period, directive, created = open_task_period(
                    session, request.task_id, day, actor, request.opened_at
                )
        except IntegrityError:
            # Opened at the same moment by another attempt: read what it stored.
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                period, directive, created = open_task_period(
                    session, request.task_id, day, actor, request.opened_at
                )
        if period is None or directive is None:
            return OpenedPlanTaskPeriod(request.task_id, "", "", None, False), None
        opened = OpenedPlanTaskPeriod(
            task_id=request.task_id,
            starts_on=period.starts_on.isoformat(),
            ends_on=period.ends_on.isoformat(),
            directive_id=directive.id,
            created=created,
        )
        if directive.status != DirectiveStatus.ISSUING:
            return opened, None
        return opened, fixed_deadline_input(directive)

    @activity.defn(name=OPEN_PLAN_TASK_PERIOD)
    async def open_plan_task_period(self, request: OpenPlanTaskPeriodInput) -> OpenedPlanTaskPeriod:
        """Open the period holding the moment the schedule fired; a second call finds it
        opened and starts its directive only if that is still being issued."""
        opened, issue = await asyncio.to_thread(self._store, request)
        if issue is not None:
            await start_here(self._client, issue)
        return opened
