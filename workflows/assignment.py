"""One commune's part of a directive, from notification to completion.

The workflow owns time: an acknowledge-by reminder, reminders before and after the deadline,
the moment the assignment becomes overdue, and the escalation ladder past the deadline. The
deadline can move (an extension, an amendment), so the loop recomputes the next due step from
`workflow.now()` each time something changes, as in Temporal's updatable-timer sample.
Acknowledge, report, review and extensions are validated updates: a refused one leaves no trace
in history."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

# The clock is passed through too: imported once per worker, not once per workflow run, where
# creating its Step dataclass was an eighth of what starting an assignment cost the worker. It
# keeps no module state and reads time only through `workflow.now()`.
with workflow.unsafe.imports_passed_through():
    from workflows.timeline import Step, Timeline, escalations, reminders

# Passed through the sandbox: the payload converter must see the real datetime class in
# these dataclasses, and nothing in them has side effects.
with workflow.unsafe.imports_passed_through():
    from vocabulary.directives import (
        ANSWERED_STATUSES,
        CLOSED_STATUSES,
        AssignmentState,
        AssignmentStatus,
        NotificationKind,
        Timeliness,
        directive_workflow_id,
    )
    from vocabulary.events import AssignmentEventKind, StepAction
    from vocabulary.refusals import ALREADY_ACKNOWLEDGED
    from vocabulary.roles import Role
    from workflows import activity_names
    from workflows.policies import ACTIVITY_RETRY, refusal
    from workflows.types import (
        AcknowledgeInput,
        AssignmentChange,
        AssignmentClosed,
        AssignmentEvent,
        AssignmentInput,
        AssignmentJournal,
        ExtensionDecisionInput,
        ExtensionRequestInput,
        NotifyInput,
        RecordAssignmentInput,
        RecordAssignmentsInput,
        ReportInput,
        ReviewInput,
    )

RECORD_TIMEOUT = timedelta(seconds=30)
# Assignments started while the read-model writes ran as local activities (behind
# RECORD_LOCALLY) replay with them; every later one records RECORD_SCHEDULED_AGAIN and schedules
# its writes, which the time-skipping test server needs inside updates. Neither guard may be
# deleted while such a history can still be running.
RECORD_LOCALLY = "record-assignment-locally"
RECORD_SCHEDULED_AGAIN = "record-assignment-scheduled-again"
NOTIFY_TIMEOUT = timedelta(minutes=2)
# An amendment no longer takes back a later extension granted to the commune: the later of the
# two dates stands. Before this, the amended date replaced the extension.
EXTENSION_OUTLASTS_AMENDMENT = "extension-outlasts-amendment"
# An acknowledgement answers as soon as the state has changed, with the record to write: the API
# writes the read model from it, and this workflow writes the same record behind the answer
# (the sequence-number guard and the event's key make the second write change nothing). One
# server round trip instead of three: before this, the update waited for its own write.
ACKNOWLEDGE_WRITES_BEHIND = "acknowledge-writes-behind"
# Decided once, in the first workflow task, for the workflow's whole life: an answered
# acknowledgement costs the server only the update. Its record, written by the caller, is
# carried with this workflow's next write of any kind (a deadline mark, a report, a reminder's
# notice, the close) instead of an activity of its own; a change that leaves the next step's
# time where it was keeps its timer; and no patch is looked up while answering. Before this,
# the answering task recorded two patch markers (each with a search-attribute upsert), moved
# the timer and scheduled the write, and a second task followed the activity.
ANSWERS_CARRIED_WITH_NEXT_WRITE = "answers-carried-with-next-write"


@workflow.defn(name="Assignment")
class AssignmentWorkflow:
    @workflow.init
    def __init__(self, request: AssignmentInput) -> None:
        self._request = request
        self._state = AssignmentState(
            directive_id=request.directive_id,
            commune_code=request.commune_code,
            status=AssignmentStatus.NOTIFIED,
            timeliness=Timeliness.WITHIN_DEADLINE,
            deadline=request.deadline,
            original_deadline=request.deadline,
        )
        # Reminders for a deadline only count from when that deadline was set: after an
        # extension, a reminder whose time is already past would be noise.
        self._deadline_set_at = request.issued_at
        self._deadline_version = 1
        # The date of the last extension granted to this commune, which an amendment moving
        # the directive's deadline to an earlier date does not take back.
        self._extended_until: datetime | None = None
        self._timeline = Timeline()
        # Every read-model write asked for, kept for the catch-up after a restore: rebuilt by
        # replay like the rest of this state, so it adds nothing to history.
        self._journal = AssignmentJournal()
        # Records an answer returned before they were written here (ACKNOWLEDGE_WRITES_BEHIND).
        self._behind: list[RecordAssignmentInput] = []
        self._closing = False
        self._carried = workflow.patched(ANSWERS_CARRIED_WITH_NEXT_WRITE)
        # A caller could not write an answer's record (write_waiting_records): write now.
        self._write_asked = False

    @workflow.run
    async def run(self, request: AssignmentInput) -> AssignmentState:
        # Waits without a command until an answer leaves a record behind: histories from
        # before ACKNOWLEDGE_WRITES_BEHIND replay unchanged.
        writer = asyncio.ensure_future(self._write_behind())
        await self._timeline.run(
            done=lambda: self._state.status in CLOSED_STATUSES,
            steps=self._steps,
            actions={
                StepAction.ACKNOWLEDGE: self._remind_to_acknowledge,
                StepAction.REMINDER: self._remind,
                StepAction.DEADLINE: self._deadline_passed,
                StepAction.ESCALATION: self._escalate,
            },
            keep_timer=self._carried,
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._closing = True
        await writer
        await self._tell_directive()
        return self._state

    # ---- time -------------------------------------------------------------------------------

    def _steps(self) -> list[Step]:
        """The policy's steps that apply to the current state: none once answered."""
        s = self._state
        if s.status in ANSWERED_STATUSES:
            return []
        policy = self._request.policy
        version = self._deadline_version
        steps: list[Step] = []
        if self._request.acknowledge_by is not None and s.acknowledged_revision == 0:
            steps.append(Step(self._request.acknowledge_by, "acknowledge", StepAction.ACKNOWLEDGE))
        steps += reminders(
            s.deadline, policy.reminder_offsets_seconds, self._deadline_set_at, version
        )
        steps.append(Step(s.deadline, f"deadline:{version}", StepAction.DEADLINE))
        steps += escalations(s.deadline, policy.escalation, s.escalation_level)
        return steps

    async def _remind_to_acknowledge(self, step: Step) -> None:
        await self._notify(
            NotificationKind.REMINDER,
            "acknowledge",
            context={"deadline": self._state.deadline.isoformat(), "reason": "acknowledge"},
        )

    async def _remind(self, step: Step) -> None:
        # A negative offset is a reminder after the deadline.
        kind = NotificationKind.REMINDER if step.value >= 0 else NotificationKind.OVERDUE
        notice = self._notify(
            kind,
            f"offset{step.value}s-d{self._deadline_version}",
            context={
                "deadline": self._state.deadline.isoformat(),
                "reason": "deadline",
                "offset_seconds": str(step.value),
            },
        )
        if not step.skipped:
            await notice
            return
        # Back after an outage: this reminder stands for the earlier ones it replaces, and the
        # timeline says so. Only the timeline's patched path skips reminders, so this record
        # is new only in histories that hold the patch's marker.
        skipped = {
            "sent": step.key,
            "skipped": str(len(step.skipped)),
            "skipped_keys": ",".join(missed.key for missed in step.skipped),
        }
        await asyncio.gather(
            self._record(AssignmentEventKind.REMINDERS_SKIPPED, detail=skipped), notice
        )

    async def _deadline_passed(self, step: Step) -> None:
        s = self._state
        if s.timeliness == Timeliness.WITHIN_DEADLINE:
            s.timeliness = Timeliness.OVERDUE
            await self._record(AssignmentEventKind.OVERDUE)

    async def _escalate(self, step: Step) -> None:
        s = self._state
        to = self._request.policy.escalation[step.value - 1].to
        s.escalation_level = step.value
        detail = {"level": str(step.value), "to": to.value}
        await asyncio.gather(
            self._record(AssignmentEventKind.ESCALATED, detail=detail),
            self._notify(
                NotificationKind.ESCALATION,
                f"level-{step.value}",
                to=to,
                context={"deadline": s.deadline.isoformat(), **detail},
            ),
        )

    # ---- updates ----------------------------------------------------------------------------

    @workflow.update
    async def acknowledge(self, request: AcknowledgeInput) -> RecordAssignmentInput:
        """Answers with the record of the acknowledgement, for the caller to write."""
        s = self._state
        s.acknowledged_revision = s.revision
        if s.acknowledged_at is None:
            s.acknowledged_at = workflow.now()
        if s.status == AssignmentStatus.NOTIFIED:
            s.status = AssignmentStatus.ACKNOWLEDGED
        self._timeline.changed()
        record = self._new_record(
            AssignmentEventKind.ACKNOWLEDGED,
            actor=request.actor,
            detail={"revision": str(s.revision)},
        )
        if self._carried or workflow.patched(ACKNOWLEDGE_WRITES_BEHIND):
            self._behind.append(record)
        else:
            await self._write(record)
        return record

    @acknowledge.validator
    def _validate_acknowledge(self, request: AcknowledgeInput) -> None:
        self._refuse_if_closed()
        if self._state.acknowledged_revision == self._state.revision:
            # The state goes with the refusal: a repeat click is answered from it, without a
            # query that a burst of clicks could overflow.
            raise refusal("already acknowledged", ALREADY_ACKNOWLEDGED, self._state)

    @workflow.update
    async def report(self, request: ReportInput) -> AssignmentState:
        s = self._state
        now = workflow.now()
        s.status = AssignmentStatus.REPORTED
        s.reported_at = now
        # Reporting answers the directive as it stands: it acknowledges it too.
        s.acknowledged_revision = s.revision
        if s.acknowledged_at is None:
            s.acknowledged_at = now
        s.timeliness = Timeliness.WITHIN_DEADLINE if now <= s.deadline else Timeliness.OVERDUE
        self._timeline.changed()
        return await self._record(
            AssignmentEventKind.REPORTED,
            actor=request.actor,
            summary=request.summary,
            evidence=request.evidence,
        )

    @report.validator
    def _validate_report(self, request: ReportInput) -> None:
        self._refuse_if_closed()
        if self._state.status == AssignmentStatus.REPORTED:
            raise refusal("already reported: the report is waiting for review")
        if not request.summary.strip():
            raise refusal("a report needs a summary")

    @workflow.update
    async def review(self, request: ReviewInput) -> AssignmentState:
        s = self._state
        now = workflow.now()
        reported_at = s.reported_at or now
        if request.accept:
            s.status = AssignmentStatus.COMPLETED
            s.completed_at = now
            # A report sent before the deadline counts as on time, however late the review.
            s.timeliness = Timeliness.ON_TIME if reported_at <= s.deadline else Timeliness.LATE
        else:
            s.status = AssignmentStatus.RETURNED
            s.timeliness = Timeliness.WITHIN_DEADLINE if now < s.deadline else Timeliness.OVERDUE
        self._timeline.changed()
        event = AssignmentEventKind.ACCEPTED if request.accept else AssignmentEventKind.RETURNED
        state = await self._record(event, actor=request.actor, review_comment=request.comment)
        if not request.accept:
            # From the snapshot, not the live state: a new report and a second return can
            # arrive while this return is written, and a notice keyed by the live sequence
            # number would share the second return's key (one of the two notices dropped as a
            # repeat) and show its deadline.
            await self._notify(
                NotificationKind.RETURNED,
                f"returned-{state.seq}",
                context={"deadline": state.deadline.isoformat(), "comment": request.comment},
            )
        return state

    @review.validator
    def _validate_review(self, request: ReviewInput) -> None:
        self._refuse_if_closed()
        if self._state.status != AssignmentStatus.REPORTED:
            raise refusal(f"nothing to review: the assignment is {self._state.status.value}")
        if not request.accept and not request.comment.strip():
            raise refusal("returning a report needs a comment saying what to rework")

    @workflow.update
    async def request_extension(self, request: ExtensionRequestInput) -> AssignmentState:
        self._state.extension_requested_until = request.until
        return await self._record(
            AssignmentEventKind.EXTENSION_REQUESTED,
            actor=request.actor,
            detail={"until": request.until.isoformat(), "reason": request.reason},
        )

    @request_extension.validator
    def _validate_request_extension(self, request: ExtensionRequestInput) -> None:
        self._refuse_if_closed()
        s = self._state
        if s.status == AssignmentStatus.REPORTED:
            raise refusal("already reported: no extension is needed")
        if s.extension_requested_until is not None:
            raise refusal("an extension request is already waiting for a decision")
        if request.until <= s.deadline:
            raise refusal("the requested date must be later than the current deadline")

    @workflow.update
    async def decide_extension(self, request: ExtensionDecisionInput) -> AssignmentState:
        s = self._state
        requested = s.extension_requested_until
        s.extension_requested_until = None
        detail = {"granted": "true" if request.grant else "false", "comment": request.comment}
        if request.grant:
            until = request.until or requested
            assert until is not None  # the validator ensures a request is pending
            self._extended_until = until
            self._move_deadline(until)
            detail["until"] = until.isoformat()
        state = await self._record(
            AssignmentEventKind.EXTENSION_GRANTED
            if request.grant
            else AssignmentEventKind.EXTENSION_REFUSED,
            actor=request.actor,
            detail=detail,
        )
        # From the snapshot, as for a return: a new request and a second decision can arrive
        # while this decision is written.
        await self._notify(
            NotificationKind.EXTENSION_DECIDED,
            f"extension-{state.seq}",
            context={**detail, "deadline": state.deadline.isoformat()},
        )
        return state

    @decide_extension.validator
    def _validate_decide_extension(self, request: ExtensionDecisionInput) -> None:
        self._refuse_if_closed()
        s = self._state
        if s.extension_requested_until is None:
            raise refusal("no extension request is waiting for a decision")
        if not request.grant:
            return
        if request.until is not None and request.until <= s.deadline:
            raise refusal("an extension must move the deadline later")
        if request.until is None and s.extension_requested_until <= s.deadline:
            # The request was later than the deadline when it was made; an amendment has
            # since moved the deadline to the same date or beyond it.
            raise refusal(
                "the requested date is no longer later than the current deadline: "
                "grant a later date, or refuse the request"
            )

    # ---- messages from the directive --------------------------------------------------------

    @workflow.signal
    async def apply_change(self, change: AssignmentChange) -> None:
        """An amendment or recall relayed by the directive. Repeats are ignored by revision."""
        s = self._state
        if s.status in CLOSED_STATUSES:
            return
        if change.recalled:
            s.status = AssignmentStatus.CANCELLED
            self._timeline.changed()
            await self._record(AssignmentEventKind.CANCELLED, actor=change.actor)
            return
        if change.revision <= s.revision:
            return
        s.revision = change.revision
        if change.deadline is not None:
            deadline = self._deadline_after_amendment(change.deadline)
            if deadline != s.deadline:
                self._move_deadline(deadline)
            # The directive's own deadline changed: that is the new original.
            s.original_deadline = change.deadline
        if change.content_changed:
            if s.status == AssignmentStatus.ACKNOWLEDGED:
                s.status = AssignmentStatus.NOTIFIED
        elif s.acknowledged_revision == s.revision - 1:
            # Only the deadline moved: an acknowledgement of the text still stands.
            s.acknowledged_revision = s.revision
        self._timeline.changed()
        await self._record(
            AssignmentEventKind.AMENDED,
            actor=change.actor,
            detail={
                "revision": str(change.revision),
                "content_changed": "true" if change.content_changed else "false",
            },
        )

    @workflow.signal
    def write_waiting_records(self) -> None:
        """A caller that got an answer's record and could not write it (the database was
        away, or it found the row behind on a repeat) asks for the records waiting here to be
        written now, by an activity that retries until the database takes them. With none
        waiting (written already, or never carried) it changes nothing."""
        self._write_asked = bool(self._behind)

    @workflow.query
    def state(self) -> AssignmentState:
        return self._state

    @workflow.query
    def journal(self) -> AssignmentJournal:
        """Every state, event and notice this assignment has asked the read model to write."""
        return self._journal

    # ---- helpers ----------------------------------------------------------------------------

    def _move_deadline(self, deadline: datetime) -> None:
        s = self._state
        s.deadline = deadline
        self._deadline_version += 1
        self._deadline_set_at = workflow.now()
        if s.status not in ANSWERED_STATUSES:
            s.timeliness = (
                Timeliness.WITHIN_DEADLINE if workflow.now() < deadline else Timeliness.OVERDUE
            )
        self._timeline.changed()

    def _deadline_after_amendment(self, amended: datetime) -> datetime:
        """The commune's deadline once the directive's deadline is amended: the later of the
        amended date and an extension granted to the commune."""
        extended = self._extended_until
        if (
            extended is not None
            and extended > amended
            and workflow.patched(EXTENSION_OUTLASTS_AMENDMENT)
        ):
            return extended
        return amended

    def _refuse_if_closed(self) -> None:
        if self._state.status in CLOSED_STATUSES:
            raise refusal(f"the assignment is {self._state.status.value}")

    async def _record(self, kind: AssignmentEventKind, **fields: Any) -> AssignmentState:
        """The next state and its event (`_new_record`'s fields), written before returning."""
        record = self._new_record(kind, **fields)
        await self._write(record)
        return record.state

    def _new_record(
        self,
        kind: AssignmentEventKind,
        actor: str = "",
        detail: dict[str, str] | None = None,
        summary: str | None = None,
        evidence: list[str] | None = None,
        review_comment: str | None = None,
    ) -> RecordAssignmentInput:
        """The next state and its event, numbered and journaled, not yet written."""
        self._state.seq += 1
        record = RecordAssignmentInput(
            state=dataclasses.replace(self._state),
            event=AssignmentEvent(kind=kind, at=workflow.now(), actor=actor, detail=detail or {}),
            summary=summary,
            evidence=evidence,
            review_comment=review_comment,
        )
        self._journal.records.append(record)
        return record

    async def _write_behind(self) -> None:
        """Write the records answers left behind, until the workflow closes. The activity is
        scheduled in the workflow task that answered, so it costs the answer no round trip.
        (Waiting a moment first, to let a burst of answers pass, is what the time-skipping test
        server cannot take: a timer started by an update's task, then a second update, fails
        its history builder.) With ANSWERS_CARRIED_WITH_NEXT_WRITE the records wait for the
        next write instead, and only those still waiting at the close are written here."""
        while True:
            await workflow.wait_condition(
                lambda: (
                    (bool(self._behind) and (self._write_asked or not self._carried))
                    or self._closing
                )
            )
            self._write_asked = False
            if not self._behind:
                if self._closing:
                    return
                continue
            if self._carried:
                await self._write_carried([])
                continue
            batch, self._behind = self._behind, []
            for record in batch:
                await self._write(record)

    async def _write_carried(self, records: list[RecordAssignmentInput]) -> None:
        """`records` with the answers' records waiting before them, in one activity."""
        batch, self._behind = [*self._behind, *records], []
        if not batch:
            return
        await workflow.execute_activity(
            activity_names.RECORD_ASSIGNMENTS,
            RecordAssignmentsInput(batch),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    async def _write(self, record: RecordAssignmentInput) -> None:
        if self._carried:
            if self._behind:
                await self._write_carried([record])
                return
        elif not workflow.patched(RECORD_SCHEDULED_AGAIN) and workflow.patched(RECORD_LOCALLY):
            await workflow.execute_local_activity(
                activity_names.RECORD_ASSIGNMENT,
                record,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            return
        await workflow.execute_activity(
            activity_names.RECORD_ASSIGNMENT,
            record,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    async def _notify(
        self,
        kind: NotificationKind,
        step: str,
        to: Role = Role.COMMUNE_LEADER,
        context: dict[str, str] | None = None,
    ) -> None:
        notice = NotifyInput(
            directive_id=self._state.directive_id,
            communes=[self._state.commune_code],
            kind=kind,
            step=step,
            to=to,
            context=context or {},
        )
        self._journal.notifications.append(notice)
        sent = workflow.execute_activity(
            activity_names.RECORD_NOTIFICATIONS,
            notice,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        if self._carried and self._behind:
            # A reminder is the first thing after an acknowledgement for many communes: the
            # answer's record goes with it rather than waiting for the deadline.
            await asyncio.gather(sent, self._write_carried([]))
            return
        await sent

    async def _tell_directive(self) -> None:
        directive = workflow.get_external_workflow_handle(
            directive_workflow_id(self._state.directive_id)
        )
        try:
            await directive.signal(
                "assignment_closed",
                AssignmentClosed(commune_code=self._state.commune_code, status=self._state.status),
            )
        except Exception:
            # The directive has already finished (recalled): nobody is waiting for this one.
            workflow.logger.info("directive %s no longer running", directive.id)
