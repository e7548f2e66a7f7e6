"""A directive: settle its plan once, reach every target commune with an assignment, relay
amendments and a recall to the open ones, and close when every assignment has closed.

Assignments are started by one activity through the client (deterministic ids, USE_EXISTING),
not as child workflows: on a 2-core server that is about 3.5 times faster, and it is not bound
by the 2,000 pending-children limit. The directive follows its assignments through their
`assignment_closed` signals; acknowledgements never pass through here. At national scale
(3,321 communes) those signals alone would pass Temporal's 4,096-event hint, so the directive
continues as new with what it knows before its history gets that long."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from temporalio import workflow

# Passed through the sandbox: the payload converter must see the real datetime class in
# these dataclasses, and nothing in them has side effects.
with workflow.unsafe.imports_passed_through():
    from vocabulary.directives import DirectiveStatus, NotificationKind
    from workflows import activity_names
    from workflows.policies import ACTIVITY_RETRY, refusal
    from workflows.types import (
        AmendDirectiveInput,
        AssignmentChange,
        AssignmentClosed,
        DirectiveCarry,
        DirectiveJournal,
        DirectivePlan,
        DirectiveRevision,
        DirectiveStatusInput,
        IssueDirectiveInput,
        NotifyInput,
        RecallDirectiveInput,
        RecordAmendmentInput,
        RelayChangeInput,
        StartAssignmentsInput,
    )

RECORD_TIMEOUT = timedelta(seconds=60)
NOTIFY_TIMEOUT = timedelta(minutes=5)
# Starting or signalling thousands of workflows, or rendering their notices, takes a while; the
# heartbeat tells a live activity from a dead worker long before the start-to-close timeout
# (a worker killed during the fan-out is replaced within seconds, see tests/faults).
FAN_OUT_TIMEOUT = timedelta(minutes=30)
FAN_OUT_HEARTBEAT = timedelta(seconds=10)
# Continue as new well before Temporal's 4,096-event hint: a workflow task can bring in many
# closing signals at once, and the handlers still running finish first. Each closing signal is
# one event, so 3,321 communes take at least two runs.
CONTINUE_AS_NEW_AFTER_EVENTS = 2000
CONTINUE_AS_NEW = "directive-continue-as-new"
# A plan's task tells its co-ordinating units when it is issued. Directives without them never
# reach the marker; the guard may go once no history from before it can still be running.
NOTIFY_CO_UNITS = "directive-notify-co-units"
# A burst of closing signals (a national directive) lands in one workflow task; after a worker
# restart that task replays the whole history first. Ten seconds, the default, is too short.
DIRECTIVE_TASK_TIMEOUT = timedelta(seconds=60)


@workflow.defn(name="Directive")
class DirectiveWorkflow:
    @workflow.init
    def __init__(self, request: IssueDirectiveInput) -> None:
        self._request = request
        self._plan: DirectivePlan | None = None
        self._status = DirectiveStatus.ISSUING
        self._revision = 1
        self._closed: dict[str, str] = {}
        # Amendments and a recall are applied one at a time, in the order accepted.
        self._lock = asyncio.Lock()
        # Every read-model write asked for, kept for the catch-up after a restore: rebuilt by
        # replay like the rest of this state, so it adds nothing to history.
        self._journal = DirectiveJournal(request=request)
        carried = request.carried
        if carried is not None:
            self._plan = carried.plan
            self._status = carried.status
            self._revision = carried.revision
            self._closed = dict(carried.closed)

    @workflow.run
    async def run(self, request: IssueDirectiveInput) -> DirectiveRevision:
        if request.carried is None:
            plan = await self._fan_out(request)
        else:
            plan = request.carried.plan
        await workflow.wait_condition(lambda: self._finished(plan) or self._history_is_long())
        if not self._finished(plan):
            if workflow.patched(CONTINUE_AS_NEW):
                await workflow.wait_condition(workflow.all_handlers_finished)
                run = request.carried.run + 1 if request.carried else 2
                workflow.continue_as_new(
                    task_timeout=workflow.info().task_timeout,
                    arg=dataclasses.replace(
                        request,
                        carried=DirectiveCarry(
                            plan=plan,
                            revision=self._revision,
                            status=self._status,
                            closed=dict(self._closed),
                            run=run,
                        ),
                    ),
                )
            await workflow.wait_condition(lambda: self._finished(plan))
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._status != DirectiveStatus.RECALLED:
            self._status = DirectiveStatus.CLOSED
            await self._set_status(DirectiveStatus.CLOSED)
        return self._result()

    def _finished(self, plan: DirectivePlan) -> bool:
        return self._status == DirectiveStatus.RECALLED or len(self._closed) >= len(plan.communes)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= CONTINUE_AS_NEW_AFTER_EVENTS
        )

    async def _fan_out(self, request: IssueDirectiveInput) -> DirectivePlan:
        plan = await workflow.execute_activity(
            activity_names.PLAN_DIRECTIVE,
            request,
            result_type=DirectivePlan,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._plan = plan
        notices = [self._notify_all(NotificationKind.ISSUED, "rev-1", plan.communes)]
        # Only a plan's task names co-ordinating units; a directive without them never reaches
        # the marker, so the histories recorded before it replay unchanged.
        if request.co_units and workflow.patched(NOTIFY_CO_UNITS):
            notices.append(
                self._notify_all(NotificationKind.COORDINATION, "rev-1", request.co_units)
            )
        await asyncio.gather(
            workflow.execute_activity(
                activity_names.START_ASSIGNMENTS,
                StartAssignmentsInput(
                    plan=plan,
                    policy=request.policy,
                    issued_at=request.issued_at,
                    task_queue=workflow.info().task_queue,
                ),
                start_to_close_timeout=FAN_OUT_TIMEOUT,
                heartbeat_timeout=FAN_OUT_HEARTBEAT,
                retry_policy=ACTIVITY_RETRY,
            ),
            *notices,
        )
        self._status = DirectiveStatus.ACTIVE
        return plan

    @workflow.update
    async def wait_for_plan(self) -> DirectivePlan:
        """Answers once the deadline is settled: the API waits on it to show the deadline."""
        await workflow.wait_condition(lambda: self._plan is not None)
        assert self._plan is not None
        return self._plan

    @workflow.update
    async def amend(self, request: AmendDirectiveInput) -> DirectiveRevision:
        await self._fanned_out()
        async with self._lock:
            if self._status != DirectiveStatus.ACTIVE:
                # A recall accepted just before this amendment has been applied first.
                raise refusal(f"the directive is {self._status.value}")
            self._revision += 1
            revision = self._revision
            amendment = RecordAmendmentInput(
                directive_id=self._request.directive_id,
                revision=revision,
                title=request.title,
                body=request.body,
                deadline=request.deadline,
            )
            self._journal.amendments.append(amendment)
            outcome = await workflow.execute_activity(
                activity_names.RECORD_AMENDMENT,
                amendment,
                result_type=DirectiveRevision,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            open_communes = self._open_communes()
            change = AssignmentChange(
                revision=revision,
                content_changed=outcome.content_changed,
                deadline=request.deadline,
                actor=request.actor,
            )
            await asyncio.gather(
                self._relay(open_communes, change),
                self._notify_all(
                    NotificationKind.AMENDED,
                    f"rev-{revision}",
                    open_communes,
                    context={
                        "content_changed": "true" if outcome.content_changed else "false",
                    },
                    only_open=True,
                ),
            )
            return outcome

    @amend.validator
    def _validate_amend(self, request: AmendDirectiveInput) -> None:
        self._refuse_unless_active()
        if request.title is None and request.body is None and request.deadline is None:
            raise refusal("nothing to amend")

    @workflow.update
    async def recall(self, request: RecallDirectiveInput) -> DirectiveRevision:
        await self._fanned_out()
        async with self._lock:
            if self._status == DirectiveStatus.RECALLED:
                return self._result()
            self._status = DirectiveStatus.RECALLED
            open_communes = self._open_communes()
            await self._set_status(DirectiveStatus.RECALLED)
            await asyncio.gather(
                self._relay(
                    open_communes,
                    AssignmentChange(revision=self._revision, recalled=True, actor=request.actor),
                ),
                self._notify_all(
                    NotificationKind.RECALLED,
                    "recall",
                    open_communes,
                    context={"reason": request.reason},
                    only_open=True,
                ),
            )
            return self._result()

    @recall.validator
    def _validate_recall(self, request: RecallDirectiveInput) -> None:
        self._refuse_unless_active()

    @workflow.signal
    def assignment_closed(self, closed: AssignmentClosed) -> None:
        self._closed[closed.commune_code] = closed.status.value

    @workflow.query
    def progress(self) -> DirectiveRevision:
        return self._result()

    @workflow.query
    def journal(self) -> DirectiveJournal:
        """Every plan, amendment, status and notice this run has asked the read model to write."""
        return self._journal

    def _refuse_unless_active(self) -> None:
        # Only final states refuse. `issuing` is not one: a worker that replays this workflow
        # (its cache emptied by a restart) runs the validator before it has re-applied the
        # fan-out's results, so the handler waits for the fan-out instead.
        if self._status in (DirectiveStatus.RECALLED, DirectiveStatus.CLOSED):
            raise refusal(f"the directive is {self._status.value}")

    async def _fanned_out(self) -> None:
        await workflow.wait_condition(lambda: self._status != DirectiveStatus.ISSUING)

    def _open_communes(self) -> list[str]:
        assert self._plan is not None
        return [code for code in self._plan.communes if code not in self._closed]

    def _result(self) -> DirectiveRevision:
        return DirectiveRevision(
            directive_id=self._request.directive_id,
            revision=self._revision,
            status=self._status,
            deadline=self._plan.deadline if self._plan else None,
        )

    async def _set_status(self, status: DirectiveStatus) -> None:
        final = DirectiveStatusInput(directive_id=self._request.directive_id, status=status)
        self._journal.statuses.append(final)
        await workflow.execute_activity(
            activity_names.SET_DIRECTIVE_STATUS,
            final,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    async def _relay(self, communes: list[str], change: AssignmentChange) -> None:
        await workflow.execute_activity(
            activity_names.RELAY_CHANGE,
            RelayChangeInput(
                directive_id=self._request.directive_id, communes=communes, change=change
            ),
            start_to_close_timeout=FAN_OUT_TIMEOUT,
            heartbeat_timeout=FAN_OUT_HEARTBEAT,
            retry_policy=ACTIVITY_RETRY,
        )

    async def _notify_all(
        self,
        kind: NotificationKind,
        step: str,
        communes: list[str],
        context: dict[str, str] | None = None,
        only_open: bool = False,
    ) -> None:
        notice = NotifyInput(
            directive_id=self._request.directive_id,
            communes=communes,
            kind=kind,
            step=step,
            context=context or {},
            only_open=only_open,
        )
        self._journal.notifications.append(notice)
        await workflow.execute_activity(
            activity_names.RECORD_NOTIFICATIONS,
            notice,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            heartbeat_timeout=FAN_OUT_HEARTBEAT,
            retry_policy=ACTIVITY_RETRY,
        )
