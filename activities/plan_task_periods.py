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
from temporalio.common import WorkflowIDConflictPolicy

from db.models import policy_from_json
from db.plan_periods import open_task_period
from vocabulary.calendar import VIETNAM
from vocabulary.directives import DirectiveStatus, directive_workflow_id
from vocabulary.plan_periods import task_schedule_id
from workflows.directive import DIRECTIVE_TASK_TIMEOUT, DirectiveWorkflow
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
        return opened, IssueDirectiveInput(
            directive_id=directive.id,
            communes=list(directive.communes),
            issued_at=directive.issued_at,
            policy=policy_from_json(directive.policy),
            deadline=directive.deadline,
            due_in_working_days=None,
            co_units=list(directive.co_units or []),
        )

    @activity.defn(name=OPEN_PLAN_TASK_PERIOD)
    async def open_plan_task_period(self, request: OpenPlanTaskPeriodInput) -> OpenedPlanTaskPeriod:
        """Open the period holding the moment the schedule fired; a second call finds it
        opened and starts its directive only if that is still being issued."""
        opened, issue = await asyncio.to_thread(self._store, request)
        if issue is not None:
            await self._client.start_workflow(
                DirectiveWorkflow.run,
                issue,
                id=directive_workflow_id(issue.directive_id),
                task_queue=activity.info().task_queue,
                task_timeout=DIRECTIVE_TASK_TIMEOUT,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        return opened
