"""One piece of community feedback: received → classified → routed → answered in time, or
escalated; then the citizen may rate the answer.

Routing is an activity (the classifier reads the commune names), run once. The commune that
received a misrouted feedback forwards it to another; the answer-by time stays (the citizen
has waited since filing). Reminders before the answer-by time and the escalation ladder after
it work as for an assignment."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from temporalio import workflow

# The clock is passed through too: imported once per worker, not once per workflow run, where
# creating its Step dataclass was an eighth of what starting an assignment cost the worker. It
# keeps no module state and reads time only through `workflow.now()`.
with workflow.unsafe.imports_passed_through():
    from workflows.timeline import Step, Timeline, escalations, reminders

with workflow.unsafe.imports_passed_through():
    from vocabulary.cases import (
        APPLICANT,
        CaseNotificationKind,
        FeedbackStatus,
        feedback_workflow_id,
    )

    # The converter reads CasePolicy's escalation steps through the sandbox's own modules: the
    # module that defines EscalationStep must be among them.
    from vocabulary.directives import EscalationStep  # noqa: F401
    from vocabulary.events import FeedbackEventKind, StepAction
    from vocabulary.roles import Role
    from workflows import activity_names
    from workflows.policies import ACTIVITY_RETRY, refusal
    from workflows.procedure_types import (
        AnswerInput,
        CaseEvent,
        CaseNotifyInput,
        FeedbackInput,
        FeedbackJournal,
        FeedbackState,
        ForwardInput,
        RateInput,
        RecordFeedbackInput,
        RouteFeedbackInput,
        Routing,
    )

RECORD_TIMEOUT = timedelta(seconds=30)
NOTIFY_TIMEOUT = timedelta(minutes=2)
# After the answer the citizen has this long to rate it; then the feedback closes.
RATING_WINDOW = timedelta(days=30)


@workflow.defn(name="Feedback")
class FeedbackWorkflow:
    @workflow.init
    def __init__(self, request: FeedbackInput) -> None:
        self._request = request
        self._state = FeedbackState(feedback_id=request.feedback_id, status=FeedbackStatus.RECEIVED)
        self._timeline = Timeline()
        # Every read-model write asked for, kept for the catch-up after a restore: rebuilt by
        # replay like the rest of this state, so it adds nothing to history.
        self._journal = FeedbackJournal()
        self._routed = False

    @workflow.run
    async def run(self, request: FeedbackInput) -> FeedbackState:
        self._journal.routing = RouteFeedbackInput(
            feedback_id=request.feedback_id,
            received_at=request.received_at,
            answer_within_working_days=request.answer_within_working_days,
        )
        routing = await workflow.execute_activity(
            activity_names.ROUTE_FEEDBACK,
            self._journal.routing,
            result_type=Routing,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        s = self._state
        s.service_code = routing.service_code
        s.answer_due_at = routing.answer_due_at
        if routing.commune_code:
            s.commune_code = routing.commune_code
            s.status = FeedbackStatus.ROUTED
        detail = {"service_code": routing.service_code, "method": routing.method}
        # Nobody could tell the commune: the steering office routes it by hand (forward).
        to = Role.COMMUNE_LEADER if routing.commune_code else Role.STEERING_OFFICE
        self._routed = True
        await asyncio.gather(
            self._record(
                FeedbackEventKind.ROUTED if routing.commune_code else FeedbackEventKind.UNROUTED,
                detail=detail,
            ),
            self._notify(CaseNotificationKind.FEEDBACK_ROUTED, "routed", to=to.value),
        )
        await self._timeline.run(
            done=lambda: s.status in (FeedbackStatus.ANSWERED, FeedbackStatus.CLOSED),
            steps=self._steps,
            actions={StepAction.REMINDER: self._remind, StepAction.ESCALATION: self._escalate},
        )
        try:
            await workflow.wait_condition(
                lambda: s.rating is not None, timeout=RATING_WINDOW.total_seconds()
            )
        except TimeoutError:
            pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        s.status = FeedbackStatus.CLOSED
        await self._record(FeedbackEventKind.CLOSED)
        return s

    # ---- time -------------------------------------------------------------------------------

    def _steps(self) -> list[Step]:
        """Reminders before the answer-by time and the escalation ladder after it, while the
        feedback is with a commune and unanswered."""
        s = self._state
        if s.status != FeedbackStatus.ROUTED or s.answer_due_at is None:
            return []
        policy = self._request.policy
        return reminders(
            s.answer_due_at, policy.reminder_offsets_seconds, self._request.received_at
        ) + escalations(s.answer_due_at, policy.escalation, s.escalation_level)

    async def _remind(self, step: Step) -> None:
        await self._notify(
            CaseNotificationKind.FEEDBACK_REMINDER,
            f"reminder-{step.value}s",
            context={"offset_seconds": str(step.value)},
        )

    async def _escalate(self, step: Step) -> None:
        s = self._state
        to = self._request.policy.escalation[step.value - 1].to
        s.escalation_level = step.value
        detail = {"level": str(step.value), "to": to.value}
        await asyncio.gather(
            self._record(FeedbackEventKind.ESCALATED, detail=detail),
            self._notify(
                CaseNotificationKind.FEEDBACK_ESCALATION,
                f"level-{step.value}",
                to=to.value,
                context=detail,
            ),
        )

    # ---- updates ----------------------------------------------------------------------------

    @workflow.update
    async def forward(self, request: ForwardInput) -> FeedbackState:
        s = self._state
        detail = {"from": s.commune_code or "", "to": request.to_commune, "reason": request.reason}
        s.commune_code = request.to_commune
        s.status = FeedbackStatus.ROUTED
        s.forwarded += 1
        # The notice names this forward and its commune as they are now: the commune may
        # forward it on again while the record is written.
        step = f"forward-{s.forwarded}"
        self._timeline.changed()
        state = await self._record(FeedbackEventKind.FORWARDED, actor=request.actor, detail=detail)
        await self._notify(
            CaseNotificationKind.FEEDBACK_ROUTED, step, commune_code=request.to_commune
        )
        return state

    @forward.validator
    def _validate_forward(self, request: ForwardInput) -> None:
        s = self._state
        if not self._routed:
            raise refusal("the feedback is still being classified; try again shortly")
        if s.status not in (FeedbackStatus.RECEIVED, FeedbackStatus.ROUTED):
            raise refusal(f"the feedback is {s.status.value}: it can no longer be forwarded")
        if (s.commune_code or "") != request.from_commune:
            raise refusal("only the commune the feedback was routed to can forward it")
        if request.to_commune == s.commune_code:
            raise refusal("the feedback is already with that commune")

    @workflow.update
    async def answer(self, request: AnswerInput) -> FeedbackState:
        s = self._state
        now = workflow.now()
        s.status = FeedbackStatus.ANSWERED
        s.answered_at = now
        s.answered_on_time = s.answer_due_at is None or now <= s.answer_due_at
        self._timeline.changed()
        state = await self._record(
            FeedbackEventKind.ANSWERED,
            actor=request.actor,
            detail={"on_time": "true" if s.answered_on_time else "false"},
            answer=request.text,
        )
        await self._notify(CaseNotificationKind.FEEDBACK_ANSWERED, "answered", to=APPLICANT)
        return state

    @answer.validator
    def _validate_answer(self, request: AnswerInput) -> None:
        s = self._state
        if s.status != FeedbackStatus.ROUTED:
            raise refusal(f"the feedback is {s.status.value}: there is nothing to answer")
        if request.commune_code != s.commune_code:
            raise refusal("only the commune the feedback is routed to can answer it")
        if not request.text.strip():
            raise refusal("an answer needs a text")

    @workflow.update
    async def rate(self, request: RateInput) -> FeedbackState:
        self._state.rating = request.rating
        return await self._record(FeedbackEventKind.RATED, detail={"rating": str(request.rating)})

    @rate.validator
    def _validate_rate(self, request: RateInput) -> None:
        s = self._state
        if s.status != FeedbackStatus.ANSWERED:
            raise refusal(f"the feedback is {s.status.value}: only an answer can be rated")
        if s.rating is not None:
            raise refusal("the answer has already been rated")
        if not 1 <= request.rating <= 5:
            raise refusal("a rating is from 1 to 5")

    @workflow.query
    def state(self) -> FeedbackState:
        return self._state

    @workflow.query
    def journal(self) -> FeedbackJournal:
        """Every state, event and message this case has asked the read model to write."""
        return self._journal

    # ---- helpers ----------------------------------------------------------------------------

    async def _record(
        self,
        kind: FeedbackEventKind,
        actor: str = "",
        detail: dict[str, str] | None = None,
        answer: str | None = None,
    ) -> FeedbackState:
        self._state.seq += 1
        snapshot = dataclasses.replace(self._state)
        record = RecordFeedbackInput(
            state=snapshot,
            event=CaseEvent(kind=kind, at=workflow.now(), actor=actor, detail=detail or {}),
            answer=answer,
        )
        self._journal.records.append(record)
        await workflow.execute_activity(
            activity_names.RECORD_FEEDBACK,
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
        commune_code: str | None = None,
    ) -> None:
        """Ask for one notice, to the commune the feedback is with unless `commune_code`."""
        notice = CaseNotifyInput(
            case_id=feedback_workflow_id(self._state.feedback_id),
            commune_code=commune_code or self._state.commune_code or "",
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
