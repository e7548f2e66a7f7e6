"""Catch-up after a restore: bring a read model restored from an older backup up to what the
live workflows have done since.

Every directive, assignment, dossier and feedback workflow that may have moved on is asked for
its journal (a query: every read-model write it asked for, in order), and the journal is
written again through the same activity code the worker runs. Those writes are idempotent:
states carry the workflow's sequence number (an older or repeated write changes nothing),
events and messages have unique business keys. So nothing acknowledged, reported or escalated
since the backup is lost, and nothing is doubled.

Which workflows: those the restored read model shows open, plus those Temporal's visibility
lists as running or closed since the backup was taken (started after the backup, the read model
cannot know them). Visibility is eventually consistent and slower than the read model, which is
why the hot paths never use it; for an operator's recovery job it is the right source.

"Behind": `db.backup restore` appends a `backup.restored` row to the audit log, and a finished
catch-up a `catchup.done` row; the read model is behind while the newest of the two is the
restore. One indexed read of a small table, the same answer in every API process.

    python -m services.catchup reconcile      (make reconcile)

Both that command and the API's start also give every recurring directive that should run its
weekly schedule (`services.recurring.make_missing_schedules`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.delivery import DeliveryConfig, delivery_config, delivery_queue, start_deliveries
from activities.delivery.starts import Start
from activities.notifications import NotificationActivities
from activities.procedures import ProcedureActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from config import Settings, get_settings
from db.backup import CAUGHT_UP, pending_restore
from db.engine import make_async_engine, make_engine
from db.models import (
    Assignment,
    AssignmentEventRow,
    AuditEntry,
    Directive,
    Dossier,
    DossierEventRow,
    Feedback,
    FeedbackEventRow,
)
from services import indicator_reporting, plan_issue
from services.reconcile_counts import record_reconcile
from services.recurring import count_repairs, make_missing_schedules, running_recurring_count
from temporal_client import connect
from vocabulary.cases import (
    DOSSIER_CLOSED,
    FeedbackStatus,
    dossier_workflow_id,
    feedback_workflow_id,
)
from vocabulary.directives import (
    CLOSED_STATUSES,
    DirectiveStatus,
    assignment_workflow_id,
    directive_workflow_id,
)
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DirectiveWorkflow
from workflows.dossier import DossierWorkflow
from workflows.feedback import FeedbackWorkflow
from workflows.procedure_types import CaseNotifyInput, DossierJournal, FeedbackJournal
from workflows.types import AssignmentJournal, DirectiveJournal, NotifyInput

log = logging.getLogger("axis.catchup")
JOB = "catchup"
# An apply's count of workflows whose own row the read model lacks.
MISSING = "missing"
# Queries in flight at once: each may make a worker replay a history it no longer caches.
MAX_CONCURRENT_QUERIES = 16
QUERY_TIMEOUT = timedelta(seconds=60)
OPEN_DIRECTIVES = (DirectiveStatus.ISSUING.value, DirectiveStatus.ACTIVE.value)

J = TypeVar("J")


@dataclass
class CatchUpReport:
    """What a catch-up found and wrote. `repairs` counts rows written by kind: a state brought
    forward, an event or a message added, a directive's plan, amendment or status settled."""

    asked: int = 0
    repairs: Counter[str] = field(default_factory=Counter)
    # Workflows whose directive, dossier or feedback row the read model lacks (created after the
    # backup): their text is not in the workflow, so they cannot be rebuilt from it.
    missing: list[str] = field(default_factory=list)
    # Workflows that did not answer (no worker, a timeout): run the catch-up again.
    unanswered: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.repairs.values())


def rewrite(
    records: Iterable[Any], seq: int, events: set[int], write: Callable[[Any], object], kind: str
) -> Counter[str]:
    """Write again each journal record the read model lacks: a state newer than the stored one,
    or an event whose sequence number has no row. The write is the activity's own, whose
    sequence-number guard leaves a newer stored state alone."""
    repairs: Counter[str] = Counter()
    for record in records:
        state_behind = record.state.seq > seq
        event_missing = record.state.seq not in events
        if state_behind or event_missing:
            write(record)
            repairs[f"{kind}_state"] += state_behind
            repairs[f"{kind}_event"] += event_missing
            seq = max(seq, record.state.seq)
    return repairs


class CatchUp:
    """One catch-up run: the activity code the worker runs, driven by the workflows' journals."""

    def __init__(
        self,
        client: Client,
        engine: Engine,
        public_url: str,
        delivery: DeliveryConfig | None = None,
    ) -> None:
        self._client = client
        self._engine = engine
        self._delivery = delivery
        self._records = RecordActivities(engine)
        self._notices = NotificationActivities(engine, Renderer(), public_url, client, delivery)
        self._cases = ProcedureActivities(engine, Renderer(), public_url, client, delivery)
        self._gate = asyncio.Semaphore(MAX_CONCURRENT_QUERIES)
        self._recorded_keys: list[str] = []
        # Messages recorded here as queued: their deliveries start from what was stored.
        self._queued: list[Start] = []
        self.report = CatchUpReport()

    async def run(self, since: datetime | None = None) -> CatchUpReport:
        """Catch everything up; `since` (when the backup was taken) widens visibility's list to
        the workflows closed after it. Directives go first: their plan makes the assignment rows
        and their notices are filtered by the assignments still open, as they were then."""
        started = time.monotonic()
        directives = await self._candidates(
            "Directive", since, self._open_ids(Directive, Directive.status.in_(OPEN_DIRECTIVES))
        )
        await self._each(directives, DirectiveWorkflow.journal, self._apply_directive)
        assignments = await self._candidates("Assignment", since, self._open_assignments())
        await self._each(assignments, AssignmentWorkflow.journal, self._apply_assignment)
        dossiers = await self._candidates(
            "Dossier",
            since,
            self._open_ids(Dossier, Dossier.status.not_in([s.value for s in DOSSIER_CLOSED])),
            dossier_workflow_id,
        )
        await self._each(dossiers, DossierWorkflow.journal, self._apply_dossier)
        feedback = await self._candidates(
            "Feedback",
            since,
            self._open_ids(Feedback, Feedback.status != FeedbackStatus.CLOSED.value),
            feedback_workflow_id,
        )
        await self._each(feedback, FeedbackWorkflow.journal, self._apply_feedback)
        self.report.seconds = time.monotonic() - started
        return self.report

    # ---- which workflows --------------------------------------------------------------------

    def _open_ids(
        self, model: type[Directive] | type[Dossier] | type[Feedback], *where: Any
    ) -> list[int]:
        with Session(self._engine) as session:
            return list(session.scalars(select(model.id).where(*where).order_by(model.id)))

    def _open_assignments(self) -> list[str]:
        with Session(self._engine) as session:
            rows = session.execute(
                select(Assignment.directive_id, Assignment.commune_code)
                .where(Assignment.status.not_in([s.value for s in CLOSED_STATUSES]))
                .order_by(Assignment.directive_id, Assignment.commune_code)
            )
            return [assignment_workflow_id(d, c) for d, c in rows]

    async def _candidates(
        self,
        workflow_type: str,
        since: datetime | None,
        known: Iterable[int] | Iterable[str],
        make_id: Callable[[int], str] = directive_workflow_id,
    ) -> list[str]:
        ids = [make_id(k) if isinstance(k, int) else k for k in known]
        query = f"WorkflowType = '{workflow_type}' AND (ExecutionStatus = 'Running'"
        if since is not None:
            stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            query += f" OR CloseTime >= '{stamp}'"
        query += ")"
        seen = set(ids)
        async for execution in self._client.list_workflows(query):
            if execution.id not in seen:
                seen.add(execution.id)
                ids.append(execution.id)
        return ids

    async def _each(
        self,
        workflow_ids: list[str],
        query: Callable[[Any], J],
        apply: Callable[[str, J], Counter[str]],
    ) -> None:
        async def one(workflow_id: str) -> None:
            async with self._gate:
                journal = await self._ask(self._client.get_workflow_handle(workflow_id), query)
            if journal is None:
                return
            # Database writes run on a thread: the next queries go out meanwhile.
            repairs = await asyncio.to_thread(apply, workflow_id, journal)
            if repairs[MISSING]:
                self.report.missing.append(workflow_id)
                del repairs[MISSING]
            self.report.repairs.update(repairs)

        await asyncio.gather(*(one(workflow_id) for workflow_id in workflow_ids))
        if self._delivery is not None and (self._recorded_keys or self._queued):
            # As the activity would: one delivery workflow per key, so a message whose
            # delivery already ran before the restore is not sent again.
            keys, self._recorded_keys = self._recorded_keys, []
            queued, self._queued = self._queued, []
            await start_deliveries(self._client, self._delivery, keys, self._engine, queued)

    async def _ask(self, handle: WorkflowHandle[Any, Any], query: Callable[[Any], J]) -> J | None:
        self.report.asked += 1
        try:
            result: J = await handle.query(query, rpc_timeout=QUERY_TIMEOUT)
            return result
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                # Never started (the read model's reconciler starts those) or past retention.
                return None
            log.warning("workflow %s did not answer its journal query: %s", handle.id, e.message)
        except WorkflowQueryFailedError as e:
            log.warning("workflow %s could not answer its journal query: %s", handle.id, e)
        self.report.unanswered.append(handle.id)
        return None

    # ---- writing what is missing ------------------------------------------------------------

    def _apply_directive(self, workflow_id: str, journal: DirectiveJournal) -> Counter[str]:
        repairs: Counter[str] = Counter()
        directive_id = journal.request.directive_id
        with Session(self._engine) as session:
            stored = session.get(Directive, directive_id)
            if stored is None:
                return Counter({MISSING: 1})
            status, revision = stored.status, stored.revision
            planned = session.scalar(
                select(func.count())
                .select_from(Assignment)
                .where(Assignment.directive_id == directive_id)
            )
        if status == DirectiveStatus.ISSUING.value or planned != len(set(journal.request.communes)):
            self._records.plan_directive(journal.request)
            repairs["directive_plan"] += 1
        for amendment in journal.amendments:
            if amendment.revision > revision:
                self._records.record_amendment(amendment)
                repairs["directive_amendment"] += 1
        for final in journal.statuses:
            if final.status.value != status:
                self._records.set_directive_status(final)
                status = final.status.value
                repairs["directive_status"] += 1
        for notice in journal.notifications:
            repairs["notification"] += self._notify(notice)
        return repairs

    def _apply_assignment(self, workflow_id: str, journal: AssignmentJournal) -> Counter[str]:
        repairs: Counter[str] = Counter()
        if not journal.records:
            # Every assignment writes before it notifies: nothing was asked of the read model.
            return repairs
        directive_id = journal.records[0].state.directive_id
        commune = journal.records[0].state.commune_code
        with Session(self._engine) as session:
            seq = session.scalar(
                select(Assignment.seq).where(
                    Assignment.directive_id == directive_id, Assignment.commune_code == commune
                )
            )
            events = set(
                session.scalars(
                    select(AssignmentEventRow.seq).where(
                        AssignmentEventRow.directive_id == directive_id,
                        AssignmentEventRow.commune_code == commune,
                    )
                )
            )
        if seq is None:
            return Counter({MISSING: 1})
        repairs.update(
            rewrite(journal.records, seq, events, self._records.record_assignment, "assignment")
        )
        for notice in journal.notifications:
            repairs["notification"] += self._notify(notice)
        return repairs

    def _apply_dossier(self, workflow_id: str, journal: DossierJournal) -> Counter[str]:
        repairs: Counter[str] = Counter()
        if not journal.records:
            return repairs
        dossier_id = journal.records[0].state.dossier_id
        seq, events = self._case_progress(Dossier, DossierEventRow.dossier_id, dossier_id)
        if seq is None:
            return Counter({MISSING: 1})
        repairs.update(rewrite(journal.records, seq, events, self._cases.record_dossier, "dossier"))
        for notice in journal.notifications:
            repairs["notification"] += self._notify_case(notice)
        return repairs

    def _apply_feedback(self, workflow_id: str, journal: FeedbackJournal) -> Counter[str]:
        repairs: Counter[str] = Counter()
        if journal.routing is None:
            return repairs
        feedback_id = journal.routing.feedback_id
        seq, events = self._case_progress(Feedback, FeedbackEventRow.feedback_id, feedback_id)
        if seq is None:
            return Counter({MISSING: 1})
        with Session(self._engine) as session:
            routed = session.scalar(
                select(Feedback.routing_method).where(Feedback.id == feedback_id)
            )
        if routed is None:
            # Settled once, from the stored text: the same routing as the first time.
            self._cases.route_feedback(journal.routing)
            repairs["feedback_routing"] += 1
        repairs.update(
            rewrite(journal.records, seq, events, self._cases.record_feedback, "feedback")
        )
        for notice in journal.notifications:
            repairs["notification"] += self._notify_case(notice)
        return repairs

    def _case_progress(
        self, model: type[Dossier] | type[Feedback], event_key: Any, case_id: int
    ) -> tuple[int | None, set[int]]:
        event_table = event_key.class_
        with Session(self._engine) as session:
            seq = session.scalar(select(model.seq).where(model.id == case_id))
            events = set(session.scalars(select(event_table.seq).where(event_key == case_id)))
        return seq, events

    def _notify(self, notice: NotifyInput) -> int:
        # The activity's own recording step (the activity only wraps it in heartbeats, which
        # need an activity context): a message already recorded is left alone.
        result, stored, queued = self._notices._record(notice)
        self._recorded_keys.extend(stored)
        self._queued.extend(queued)
        return result.recorded

    def _notify_case(self, notice: CaseNotifyInput) -> int:
        result, keys = self._cases._record_case(notice)
        self._recorded_keys.extend(keys)
        return result.recorded


async def catch_up(
    client: Client,
    engine: Engine,
    public_url: str,
    delivery: DeliveryConfig | None = None,
    since: datetime | None = None,
) -> CatchUpReport:
    """Run one catch-up and, when every workflow answered, record it in the audit log (the read
    model is no longer behind)."""
    report = await CatchUp(client, engine, public_url, delivery).run(since)
    if not report.unanswered:
        with Session(engine) as session, session.begin():
            session.add(
                AuditEntry(
                    actor="operator",
                    action=CAUGHT_UP,
                    detail={
                        "repairs": dict(report.repairs),
                        "missing": report.missing[:100],
                        "seconds": round(report.seconds, 3),
                    },
                )
            )
    log.info(
        "catch-up: %d workflows asked, %d rows repaired %s in %.1f s; %d missing, %d unanswered",
        report.asked,
        report.total,
        dict(report.repairs),
        report.seconds,
        len(report.missing),
        len(report.unanswered),
    )
    if report.missing:
        log.warning("workflows without their row in the read model: %s", report.missing[:100])
    record_reconcile(JOB, dict(report.repairs))
    return report


class RunningApp(Protocol):
    """The API's app as the jobs it schedules see it: its state holds the settings, the
    database sessions and the Temporal gateway."""

    @property
    def state(self) -> Any: ...


async def reconcile_recurring_schedules(
    app: RunningApp, only_pending: bool = False
) -> dict[int, str]:
    """At the API's start: every recurring directive that should run has its schedule (one left
    pending by an engine that did not answer is finished, a missing schedule made again); with
    `only_pending`, the API's frequent pass, only the pending ones are finished. Returns
    {recurring id: what was done}; a failure is logged and the next run repairs."""
    try:
        async with app.state.sessions() as session:
            done: dict[int, str] = {}
            if await running_recurring_count(session, only_pending):
                client = await app.state.temporal.get()
                done = await make_missing_schedules(
                    session, client, app.state.settings, only_pending=only_pending
                )
    except Exception as e:
        log.warning("recurring directives' schedules not checked (%s); the next start does", e)
        return {}
    if done:
        log.info("recurring directives' schedules made: %s", done)
    record_reconcile("recurring", count_repairs(done))
    return done


async def reconcile_indicator_schedules(app: RunningApp) -> dict[str, str]:
    """At the API's start: every commune-scoped indicator has the schedule that opens its
    reporting periods (one lost, or an indicator stored while the engine did not answer, gets
    it made again). A failure is logged and the next start repairs."""
    try:
        async with app.state.sessions() as session:
            client = await app.state.temporal.get()
            done = await indicator_reporting.reconcile_schedules(
                session, client, app.state.settings
            )
    except Exception as e:
        log.warning("indicators' schedules not checked (%s); the next start does", e)
        return {}
    if done:
        log.info("indicators' schedules made or moved: %s", done)
    return done


async def reconcile_plan_task_schedules(app: RunningApp) -> int:
    """At the API's start: every issued task reported every period has the schedule that opens
    its periods (one lost with a restored engine is made again). Returns how many tasks were
    checked; a failure is logged and the next start repairs."""
    try:
        async with app.state.sessions() as session:
            client = await app.state.temporal.get()
            return await plan_issue.reconcile_schedules(session, client, app.state.settings)
    except Exception as e:
        log.warning("plan tasks' schedules not checked (%s); the next start does", e)
        return 0


async def catch_up_if_behind(app: RunningApp) -> CatchUpReport | None:
    """At the API's start: run the catch-up when a restore has left the read model behind.
    Off the request path (a scheduler job): the API answers meanwhile, from the restored rows.
    First, the recurring directives', the indicators' and the plan tasks' schedules are
    reconciled."""
    await reconcile_recurring_schedules(app)
    await reconcile_indicator_schedules(app)
    await reconcile_plan_task_schedules(app)
    settings: Settings = app.state.settings
    engine = make_engine(settings.resolved_database_url)
    try:
        since = await asyncio.to_thread(pending_restore, engine)
        if since is None:
            return None
        log.info("the read model was restored from a backup taken %s: catching up", since)
        client = await app.state.temporal.get()
        delivery = delivery_config(settings, delivery_queue(settings.task_queue), engine)
        return await catch_up(client, engine, settings.public_url, delivery, since)
    except Exception:
        log.exception("the catch-up failed; run `make reconcile` once the cause is fixed")
        return None
    finally:
        engine.dispose()


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.catchup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["reconcile"])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    _ping(engine)
    client = await connect(settings, attempts=10)
    delivery = delivery_config(settings, delivery_queue(settings.task_queue), engine)
    report = await catch_up(
        client, engine, settings.public_url, delivery, since=pending_restore(engine)
    )
    engine.dispose()
    schedules = make_async_engine(settings.resolved_database_url)
    async with async_sessionmaker(schedules, expire_on_commit=False)() as session:
        made = await make_missing_schedules(session, client, settings)
    await schedules.dispose()
    log.info("recurring directives' schedules made: %s", made or "none missing")
    record_reconcile("recurring", count_repairs(made))
    return 1 if report.unanswered else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main()))
