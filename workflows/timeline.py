"""The clock of a case workflow: wait for the earliest policy step not yet fired, fire it, and
start again; wake early when the case changes, since an answer, an extension or a pause moves
or cancels the steps. Temporal's updatable-timer sample, shared by the assignment, dossier and
feedback workflows.

The commands it emits are part of every recorded history: one timer per wait with a step ahead
(`wait_condition` with the time left), none when no step applies, and whatever the step's own
action runs. Changing how it waits changes the histories, which must keep replaying.

After an outage (no worker for days) every step whose time passed is due at once. Escalations,
deadlines and acknowledge-by reminders all fire, in their order; of the reminders due, only the
latest is sent, carrying the ones it replaces in `Step.skipped` (marked fired, so they never
fire later). Three "your deadline is in N days" messages in one minute would be noise, and the
earlier ones would be wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from vocabulary.directives import EscalationStep
    from vocabulary.events import StepAction


@dataclass(frozen=True)
class Step:
    """A timed step of a policy; `key` identifies it so that it fires once. `skipped`: the
    earlier reminders this one replaces, missed while no worker ran (only on the reminder the
    timeline fires; an action that does not look at it fires as before)."""

    at: datetime
    key: str
    action: StepAction
    value: int = 0
    skipped: tuple[Step, ...] = ()


Fire = Callable[[Step], Awaitable[None]]

# Of the reminders due at once after an outage, only the latest is sent. Before this, each
# fired in turn.
LATEST_MISSED_REMINDER_ONLY = "latest-missed-reminder-only"


def reminders(
    due: datetime, offsets: Iterable[int], since: datetime, version: int | None = None
) -> list[Step]:
    """A reminder `offset` seconds before `due` (after it, for a negative offset), for each
    offset whose time is not before `since`: a reminder already past when the due time was
    set would be noise. `version` tells the reminders of a moved due time from the old ones."""
    suffix = "" if version is None else f":{version}"
    return [
        Step(
            due - timedelta(seconds=offset),
            f"reminder:{offset}{suffix}",
            StepAction.REMINDER,
            offset,
        )
        for offset in offsets
        if due - timedelta(seconds=offset) >= since
    ]


def escalations(due: datetime, ladder: Sequence[EscalationStep], reached: int) -> list[Step]:
    """The rungs of the escalation ladder past `due` above the level already reached; a step's
    value is its level, from 1."""
    return [
        Step(
            due + timedelta(seconds=rung.after_seconds),
            f"escalation:{level}",
            StepAction.ESCALATION,
            level,
        )
        for level, rung in enumerate(ladder, start=1)
        if level > reached
    ]


class Timeline:
    """The steps a workflow has fired and whether its state changed since the clock last
    looked. A workflow keeps one, built in its `@workflow.init`, and calls `changed()` from
    every handler that may move or cancel a step."""

    def __init__(self) -> None:
        self._fired: set[str] = set()
        self._changed = False
        # Reminders passed over for a later one that was due with them, by that one's key.
        self._skipped: dict[str, list[Step]] = {}

    def changed(self) -> None:
        self._changed = True

    def next_step(self, steps: Iterable[Step]) -> Step | None:
        """The earliest step not yet fired among those that apply now."""
        pending = [step for step in steps if step.key not in self._fired]
        return min(pending, key=lambda step: (step.at, step.key)) if pending else None

    async def run(
        self,
        done: Callable[[], bool],
        steps: Callable[[], Iterable[Step]],
        actions: Mapping[StepAction, Fire],
        keep_timer: bool = False,
    ) -> None:
        """Fire each step when its time comes until `done()`. `steps()` lists the steps that
        apply to the state as it is now (none while nothing is chased); `actions` says what
        each kind of step does.

        With `keep_timer`, a change that leaves the next step's time where it was (an
        acknowledgement, with no acknowledge-by time) leaves its timer running: no timer
        cancelled and started again in the answer's workflow task. Without it, every change
        restarts the timer, as the histories recorded before it do."""
        if keep_timer:
            await self._run_keeping_timer(done, steps, actions)
            return
        while not done():
            step = self.next_step(steps())
            self._changed = False
            if step is None:
                await workflow.wait_condition(lambda: self._changed)
                continue
            left = (step.at - workflow.now()).total_seconds()
            if left > 0:
                try:
                    await workflow.wait_condition(lambda: self._changed, timeout=left)
                    continue
                except TimeoutError:
                    # An answer that arrived with the timer is applied first: fire only a step
                    # that still applies.
                    if self.next_step(steps()) != step:
                        continue
            await self._fire(step, steps, actions)

    async def _run_keeping_timer(
        self,
        done: Callable[[], bool],
        steps: Callable[[], Iterable[Step]],
        actions: Mapping[StepAction, Fire],
    ) -> None:
        timer: asyncio.Task[None] | None = None
        timer_at: datetime | None = None
        while not done():
            step = self.next_step(steps())
            self._changed = False
            if timer is not None and (step is None or step.at != timer_at):
                timer.cancel()
                timer = None
            if step is None:
                await workflow.wait_condition(lambda: self._changed)
                continue
            left = (step.at - workflow.now()).total_seconds()
            if left > 0:
                if timer is None:
                    timer, timer_at = asyncio.ensure_future(asyncio.sleep(left)), step.at
                await workflow.wait_condition(partial(self._changed_or_done, timer))
                if not timer.done():
                    continue
                timer = None
                # An answer that arrived with the timer is applied first: fire only a step
                # that still applies.
                if self.next_step(steps()) != step:
                    continue
            await self._fire(step, steps, actions)
        if timer is not None:
            timer.cancel()

    def _changed_or_done(self, timer: asyncio.Task[None]) -> bool:
        return self._changed or timer.done()

    async def _fire(
        self, step: Step, steps: Callable[[], Iterable[Step]], actions: Mapping[StepAction, Fire]
    ) -> None:
        self._fired.add(step.key)
        if step.action == StepAction.REMINDER:
            # Another reminder is due too (`step` is the earliest): the latest one goes,
            # telling of this one.
            later = self._latest_reminder_due(steps())
            if later is not None and workflow.patched(LATEST_MISSED_REMINDER_ONLY):
                self._skipped.setdefault(later.key, []).append(step)
                return
            step = replace(step, skipped=tuple(self._skipped.pop(step.key, [])))
        await actions[step.action](step)

    def _latest_reminder_due(self, steps: Iterable[Step]) -> Step | None:
        """The latest reminder not yet fired whose time has come."""
        now = workflow.now()
        due = [
            step
            for step in steps
            if step.action == StepAction.REMINDER and step.at <= now and step.key not in self._fired
        ]
        return max(due, key=lambda step: (step.at, step.key)) if due else None
