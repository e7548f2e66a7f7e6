"""One administrative-procedure dossier, from receipt to the result handed back.

The workflow owns the due time: reminders to the commune before it, the formal apology letter
("phiếu xin lỗi và hẹn lại ngày trả kết quả") with a new appointment when the result is not
ready shortly before it, the moment the dossier becomes overdue, and the escalation ladder past
it. A supplement request pauses the clock; when the supplement arrives the due time is computed
again from the working days that were left (an activity: the calendar is not replayed).
Each step is a validated update: a refused one answers 409 and leaves no trace in history."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

from temporalio import workflow

# The clock is passed through too: imported once per worker, not once per workflow run, where
# creating its Step dataclass was an eighth of what starting an assignment cost the worker. It
# keeps no module state and reads time only through `workflow.now()`.
with workflow.unsafe.imports_passed_through():
    from workflows.timeline import Step, Timeline, escalations, reminders

with workflow.unsafe.imports_passed_through():
    from vocabulary.cases import (
        APPLICANT,
        DOSSIER_CLOSED,
        DOSSIER_DONE,
        CaseNotificationKind,
        DossierStatus,
        DossierTimeliness,
        dossier_workflow_id,
    )

    # The converter reads CasePolicy's escalation steps through the sandbox's own modules: the
    # module that defines EscalationStep must be among them.
    from vocabulary.directives import EscalationStep  # noqa: F401
    from vocabulary.events import DossierEventKind, StepAction
    from vocabulary.roles import Role
    from workflows import activity_names
    from workflows.policies import ACTIVITY_RETRY, refusal
    from workflows.procedure_types import (
        AppointmentInput,
        CaseEvent,
        CaseNotifyInput,
        DossierInput,
        DossierJournal,
        DossierState,
        DossierStepInput,
        DueTime,
        RecordDossierInput,
        ResumeDueInput,
    )

RECORD_TIMEOUT = timedelta(seconds=30)
NOTIFY_TIMEOUT = timedelta(minutes=2)
CALENDAR_TIMEOUT = timedelta(seconds=30)
# Asia/Ho_Chi_Minh has kept UTC+7 without daylight saving since 1975: a fixed offset tells the
# day without time zone data in the sandbox.
VIETNAM_OFFSET = timezone(timedelta(hours=7))
OPEN = frozenset({DossierStatus.RECEIVED, DossierStatus.PROCESSING})
# Dossiers started before these changes replay without them (workflow.patched):
# the first write, telling the read model the workflow runs;
RECORDS_RECEIPT = "dossier-records-receipt"
# a received supplement, which asks the calendar before it changes the dossier, takes its turn
# with a refusal accepted meanwhile, and a second one is refused while the first is in flight.
STEPS_TAKE_TURNS = "dossier-steps-take-turns"


def timeliness_of(finished_at: datetime, due_at: datetime) -> DossierTimeliness:
    """Early before the due day, on time on it (until the due time), late after it."""
    if finished_at > due_at:
        return DossierTimeliness.LATE
    if finished_at.astimezone(VIETNAM_OFFSET).date() < due_at.astimezone(VIETNAM_OFFSET).date():
        return DossierTimeliness.EARLY
    return DossierTimeliness.ON_TIME


@workflow.defn(name="Dossier")
class DossierWorkflow:
    @workflow.init
    def __init__(self, request: DossierInput) -> None:
        self._request = request
        self._state = DossierState(
            dossier_id=request.dossier_id,
            commune_code=request.commune_code,
            status=DossierStatus.RECEIVED,
            timeliness=DossierTimeliness.WITHIN_LIMIT,
            due_at=request.due_at,
            original_due_at=request.due_at,
        )
        self._due_set_at = request.received_at
        self._due_version = 1
        self._timeline = Timeline()
        # Every read-model write asked for, kept for the catch-up after a restore: rebuilt by
        # replay like the rest of this state, so it adds nothing to history.
        self._journal = DossierJournal()
        # A step that awaits before it changes the dossier holds the lock meanwhile
        # (Temporal's safe_message_handlers sample); the flag lets the validators see it.
        self._lock = asyncio.Lock()
        self._receiving_supplement = False

    @workflow.run
    async def run(self, request: DossierInput) -> DossierState:
        # The first write tells the read model the workflow runs (the reconciler starts
        # those that never did).
        if workflow.patched(RECORDS_RECEIPT):
            await self._record(
                DossierEventKind.RECEIVED, detail={"due_at": request.due_at.isoformat()}
            )
        await self._timeline.run(
            done=lambda: self._state.status in DOSSIER_CLOSED,
            steps=self._steps,
            actions={
                StepAction.REMINDER: self._remind,
                StepAction.APOLOGY: self._apologise,
                StepAction.DUE: self._due_time_passed,
                StepAction.ESCALATION: self._escalate,
            },
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    # ---- time -------------------------------------------------------------------------------

    def _steps(self) -> list[Step]:
        s = self._state
        # The clock stands still while the applicant supplements, and nothing is chased once
        # the result is ready.
        if s.status in DOSSIER_DONE or s.status == DossierStatus.SUPPLEMENT_REQUESTED:
            return []
        policy = self._request.policy
        version = self._due_version
        steps = reminders(s.due_at, policy.reminder_offsets_seconds, self._due_set_at, version)
        if s.appointment_at is None:
            at = s.due_at - timedelta(seconds=policy.apology_before_seconds)
            # A dossier received closer to its due time than that (same-day ones) gets its
            # apology when it becomes late, not the moment it arrives.
            apology_at = at if at >= self._due_set_at else s.due_at
            steps.append(Step(apology_at, "apology", StepAction.APOLOGY))
        steps.append(Step(s.due_at, f"due:{version}", StepAction.DUE))
        steps += escalations(s.due_at, policy.escalation, s.escalation_level)
        return steps

    async def _remind(self, step: Step) -> None:
        await self._notify(
            CaseNotificationKind.DOSSIER_REMINDER,
            f"reminder-{step.value}s-d{self._due_version}",
            context={"due_at": self._state.due_at.isoformat(), "offset_seconds": str(step.value)},
        )

    async def _apologise(self, step: Step) -> None:
        s = self._state
        # The letter names the due time it apologises for, as it stood when the step fired.
        due = {"due_at": s.due_at.isoformat()}
        appointment = await workflow.execute_activity(
            activity_names.DOSSIER_APPOINTMENT,
            AppointmentInput(
                due_at=s.due_at,
                working_days=self._request.policy.apology_extra_working_days,
            ),
            result_type=DueTime,
            start_to_close_timeout=CALENDAR_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        s.appointment_at = appointment.at
        detail = {"appointment_at": appointment.at.isoformat()}
        await asyncio.gather(
            self._record(DossierEventKind.APOLOGY_SENT, detail=detail),
            self._notify(
                CaseNotificationKind.DOSSIER_APOLOGY,
                "apology",
                to=APPLICANT,
                context={**due, **detail},
            ),
        )

    async def _due_time_passed(self, step: Step) -> None:
        s = self._state
        if s.timeliness == DossierTimeliness.WITHIN_LIMIT:
            s.timeliness = DossierTimeliness.OVERDUE
            await self._record(DossierEventKind.OVERDUE)

    async def _escalate(self, step: Step) -> None:
        s = self._state
        to = self._request.policy.escalation[step.value - 1].to
        s.escalation_level = step.value
        detail = {"level": str(step.value), "to": to.value}
        await asyncio.gather(
            self._record(DossierEventKind.ESCALATED, detail=detail),
            self._notify(
                CaseNotificationKind.DOSSIER_ESCALATION,
                f"level-{step.value}",
                to=to.value,
                context={"due_at": s.due_at.isoformat(), **detail},
            ),
        )

    # ---- steps (validated updates) ----------------------------------------------------------

    @workflow.update
    async def start_processing(self, request: DossierStepInput) -> DossierState:
        self._state.status = DossierStatus.PROCESSING
        return await self._record(DossierEventKind.PROCESSING, actor=request.actor)

    @start_processing.validator
    def _validate_start_processing(self, request: DossierStepInput) -> None:
        self._refuse_unless({DossierStatus.RECEIVED}, "processing starts from a received dossier")

    @workflow.update
    async def transfer(self, request: DossierStepInput) -> DossierState:
        s = self._state
        assert request.to_level is not None  # the validator ensures it
        detail = {"from": s.level.value, "to": request.to_level.value, "reason": request.reason}
        s.level = request.to_level
        if s.status == DossierStatus.RECEIVED:
            s.status = DossierStatus.PROCESSING
        return await self._record(DossierEventKind.TRANSFERRED, actor=request.actor, detail=detail)

    @transfer.validator
    def _validate_transfer(self, request: DossierStepInput) -> None:
        self._refuse_unless(OPEN, "only a dossier being processed can be transferred")
        if request.to_level is None or request.to_level == self._state.level:
            raise refusal(f"the dossier is already at the {self._state.level.value} level")

    @workflow.update
    async def request_supplement(self, request: DossierStepInput) -> DossierState:
        s = self._state
        s.status = DossierStatus.SUPPLEMENT_REQUESTED
        s.paused_at = workflow.now()
        self._timeline.changed()
        return await self._record(
            DossierEventKind.SUPPLEMENT_REQUESTED,
            actor=request.actor,
            detail={"reason": request.reason},
        )

    @request_supplement.validator
    def _validate_request_supplement(self, request: DossierStepInput) -> None:
        self._refuse_unless(OPEN, "a supplement can be asked of a dossier being processed only")
        if not request.reason.strip():
            raise refusal("a supplement request says what is missing")

    @workflow.update
    async def supplement_received(self, request: DossierStepInput) -> DossierState:
        # The new due time comes from the calendar (an activity) before the dossier changes:
        # meanwhile a second identical step is refused and a refusal waits for its turn.
        self._receiving_supplement = True
        try:
            async with self._in_turn():
                return await self._receive_supplement(request)
        finally:
            self._receiving_supplement = False

    async def _receive_supplement(self, request: DossierStepInput) -> DossierState:
        s = self._state
        now = workflow.now()
        paused_at = s.paused_at
        assert paused_at is not None  # the validator ensures a pause
        resumed = await workflow.execute_activity(
            activity_names.DOSSIER_RESUMED_DUE,
            ResumeDueInput(
                due_at=s.due_at, paused_at=paused_at, resumed_at=now, unit=self._request.unit
            ),
            result_type=DueTime,
            start_to_close_timeout=CALENDAR_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        if s.paused_at is None:
            # Only a dossier started before the steps took turns gets here: a second identical
            # step accepted while the first was in flight, which used to fail the workflow
            # task on every retry. Refusing it lets the dossier go on.
            raise refusal(f"the supplement was received already: the dossier is {s.status.value}")
        detail = {"from": s.due_at.isoformat(), "to": resumed.at.isoformat()}
        s.paused_seconds += int((now - paused_at).total_seconds())
        s.paused_at = None
        s.due_at = resumed.at
        s.status = DossierStatus.PROCESSING
        s.timeliness = (
            DossierTimeliness.WITHIN_LIMIT if now < s.due_at else DossierTimeliness.OVERDUE
        )
        self._due_version += 1
        self._due_set_at = now
        self._timeline.changed()
        return await self._record(
            DossierEventKind.SUPPLEMENT_RECEIVED, actor=request.actor, detail=detail
        )

    @supplement_received.validator
    def _validate_supplement_received(self, request: DossierStepInput) -> None:
        if self._receiving_supplement:
            raise refusal("the supplement is being received already")
        self._refuse_unless(
            {DossierStatus.SUPPLEMENT_REQUESTED}, "no supplement was requested of this dossier"
        )

    @workflow.update
    async def result_ready(self, request: DossierStepInput) -> DossierState:
        s = self._state
        now = workflow.now()
        s.status = DossierStatus.RESULT_READY
        s.result_at = now
        s.timeliness = timeliness_of(now, s.due_at)
        self._timeline.changed()
        return await self._record(
            DossierEventKind.RESULT_READY,
            actor=request.actor,
            detail={"timeliness": s.timeliness.value},
        )

    @result_ready.validator
    def _validate_result_ready(self, request: DossierStepInput) -> None:
        self._refuse_unless(OPEN, "the result can be ready only for a dossier being processed")

    @workflow.update
    async def returned(self, request: DossierStepInput) -> DossierState:
        s = self._state
        s.status = DossierStatus.RETURNED
        s.closed_at = workflow.now()
        self._timeline.changed()
        return await self._record(DossierEventKind.RETURNED, actor=request.actor)

    @returned.validator
    def _validate_returned(self, request: DossierStepInput) -> None:
        self._refuse_unless({DossierStatus.RESULT_READY}, "the result is not ready yet")

    @workflow.update
    async def refuse(self, request: DossierStepInput) -> DossierState:
        # A refusal accepted while a supplement is being received comes after it, and stands.
        async with self._in_turn():
            s = self._state
            now = workflow.now()
            s.status = DossierStatus.REFUSED
            s.refusal_reason = request.reason
            s.closed_at = now
            # The written refusal is the answer the applicant is owed: it is timed like a result.
            s.timeliness = timeliness_of(now, s.due_at)
            self._timeline.changed()
            return await self._record(
                DossierEventKind.REFUSED, actor=request.actor, detail={"reason": request.reason}
            )

    @refuse.validator
    def _validate_refuse(self, request: DossierStepInput) -> None:
        self._refuse_unless(
            {*OPEN, DossierStatus.SUPPLEMENT_REQUESTED}, "only an open dossier can be refused"
        )
        if not request.reason.strip():
            raise refusal("a refusal states its reason")

    @workflow.query
    def state(self) -> DossierState:
        return self._state

    @workflow.query
    def journal(self) -> DossierJournal:
        """Every state, event and message this case has asked the read model to write."""
        return self._journal

    # ---- helpers ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _in_turn(self) -> AsyncIterator[None]:
        """Hold the steps' lock, for the dossiers that take turns. A free lock is taken without
        yielding, so a step nobody races emits the same commands as before."""
        if not workflow.patched(STEPS_TAKE_TURNS):
            yield
            return
        async with self._lock:
            yield

    def _refuse_unless(
        self, allowed: set[DossierStatus] | frozenset[DossierStatus], why: str
    ) -> None:
        if self._state.status not in allowed:
            raise refusal(f"{why}: the dossier is {self._state.status.value}")

    async def _record(
        self, kind: DossierEventKind, actor: str = "", detail: dict[str, str] | None = None
    ) -> DossierState:
        self._state.seq += 1
        snapshot = dataclasses.replace(self._state)
        record = RecordDossierInput(
            state=snapshot,
            event=CaseEvent(kind=kind, at=workflow.now(), actor=actor, detail=detail or {}),
        )
        self._journal.records.append(record)
        await workflow.execute_activity(
            activity_names.RECORD_DOSSIER,
            record,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        return snapshot

    async def _notify(
        self,
        kind: CaseNotificationKind,
        step: str,
        to: str = Role.COMMUNE_LEADER.value,
        context: dict[str, str] | None = None,
    ) -> None:
        notice = CaseNotifyInput(
            case_id=dossier_workflow_id(self._state.dossier_id),
            commune_code=self._state.commune_code,
            kind=kind,
            step=step,
            to=to,
            context=context or {},
        )
        self._journal.notifications.append(notice)
        await workflow.execute_activity(
            activity_names.RECORD_CASE_NOTIFICATIONS,
            notice,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
