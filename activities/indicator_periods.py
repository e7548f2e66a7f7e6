"""Opening an indicator's reporting period for its schedule: the period and its directive are
stored once (`db.indicator_periods.store_period`, as the office's request stores them), then
the directive's workflow is started or found running, as the office's request starts it."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client

from activities.directive_starts import fixed_deadline_input, start_here
from db.indicator_periods import (
    AgencyIndicator,
    StoredPeriod,
    UnknownIndicator,
    plan_period,
    write_period,
)
from vocabulary.calendar import VIETNAM
from vocabulary.directives import DirectiveStatus
from vocabulary.indicator_periods import indicator_schedule_id
from workflows.indicator_period_types import (
    OPEN_INDICATOR_PERIOD,
    OpenedIndicatorPeriod,
    OpenIndicatorPeriodInput,
)
from workflows.types import IssueDirectiveInput


class IndicatorPeriodActivities:
    def __init__(self, engine: Engine, client: Client) -> None:
        self._engine = engine
        self._client = client

    def _store(
        self, request: OpenIndicatorPeriodInput
    ) -> tuple[OpenedIndicatorPeriod, IssueDirectiveInput | None]:
        code = request.indicator_code
        today = request.at.astimezone(VIETNAM).date()
        try:
            # Kept loaded past the commit: the write reads the plan's rows, never the database.
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                plan = plan_period(session, code, None, today)
        except (UnknownIndicator, AgencyIndicator) as e:
            # Changed or gone since its schedule was made: the reconciler removes that.
            return OpenedIndicatorPeriod(code, "", "", None, 0, False, note=repr(e)), None
        # The reads end first: the writing transaction starts with its first write.
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            stored: StoredPeriod = write_period(
                session, plan, indicator_schedule_id(code), request.opened_at
            )
            period, directive = stored.period, stored.directive
            opened = OpenedIndicatorPeriod(
                indicator_code=code,
                period_start=period.period_start.isoformat(),
                period_end=period.period_end.isoformat(),
                directive_id=period.directive_id,
                tasks=len(directive.communes) if directive else 0,
                created=stored.created,
            )
            issuing = directive is not None and directive.status == DirectiveStatus.ISSUING
            return opened, fixed_deadline_input(directive) if directive and issuing else None

    @activity.defn(name=OPEN_INDICATOR_PERIOD)
    async def open_indicator_period(
        self, request: OpenIndicatorPeriodInput
    ) -> OpenedIndicatorPeriod:
        """Open the period that ended last before the schedule fired; a second call finds it
        opened and starts its directive only if that is still being issued."""
        opened, issue = await asyncio.to_thread(self._store, request)
        if issue is not None:
            await start_here(self._client, issue)
        return opened
