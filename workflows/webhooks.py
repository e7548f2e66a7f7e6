"""One subscription's events, delivered in the order of the change feed.

The workflow owns the subscription's cursor and its policy: it waits for events after the
cursor (an activity that watches the feed), delivers them one at a time so a receiver sees every
assignment's changes in the order they happened, retries a failed delivery with backoff (or the
receiver's Retry-After) for a day, then pauses the subscription, tells the office, and waits
for the office to resume it; it then goes on from the event that failed. The cursor moves only
past an event delivered, so an event is never skipped; a retry carries the same webhook-id, so
the receiver can drop a repeat."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from vocabulary.webhooks import SubscriptionStatus
    from workflows import activity_names
    from workflows.policies import ACTIVITY_RETRY
    from workflows.webhook_types import (
        AttemptOutcome,
        DeliverEventInput,
        DeliverEventResult,
        NextEvents,
        NextEventsInput,
        PauseInput,
        SubscriptionInput,
    )

# Events read from the feed at a time.
BATCH = 100
# A delivery is one HTTP request with a 15 s timeout, and its row in the log.
DELIVER_TIMEOUT = timedelta(seconds=60)
RECORD_TIMEOUT = timedelta(seconds=30)
# The watching activity heartbeats every second; a worker that died is noticed within this.
WATCH_HEARTBEAT = timedelta(seconds=15)
# A new run before the history grows long: a busy subscription delivers thousands of events.
HISTORY_LIMIT = 4000


@workflow.defn(name="WebhookSubscription")
class WebhookSubscriptionWorkflow:
    def __init__(self) -> None:
        self._resumed = False

    @workflow.signal
    def resume(self) -> None:
        """The office resumed a paused subscription: try the event that failed again."""
        self._resumed = True

    @workflow.run
    async def run(self, request: SubscriptionInput) -> None:
        after = request.after
        while True:
            batch = await workflow.execute_activity(
                activity_names.NEXT_WEBHOOK_EVENTS,
                NextEventsInput(
                    subscription_id=request.subscription_id,
                    after=after,
                    limit=BATCH,
                    wait_seconds=request.policy.wait_seconds,
                ),
                result_type=NextEvents,
                start_to_close_timeout=timedelta(seconds=request.policy.wait_seconds + 30),
                heartbeat_timeout=WATCH_HEARTBEAT,
                retry_policy=ACTIVITY_RETRY,
            )
            if batch.status == SubscriptionStatus.DELETED:
                return
            for change_id in batch.change_ids:
                if not await self._deliver(request, change_id):
                    return
                after = change_id
            after = max(after, batch.read_through)
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() > (
                HISTORY_LIMIT
            ):
                workflow.continue_as_new(
                    SubscriptionInput(
                        subscription_id=request.subscription_id,
                        after=after,
                        policy=request.policy,
                    )
                )

    async def _deliver(self, request: SubscriptionInput, change_id: int) -> bool:
        """Deliver one event until it is accepted (True) or the subscription is deleted
        (False). Its attempts are counted from 1, across pauses."""
        policy = request.policy
        failing_since = None
        failures = attempts = 0
        while True:
            attempts += 1
            result = await workflow.execute_activity(
                activity_names.DELIVER_WEBHOOK_EVENT,
                DeliverEventInput(request.subscription_id, change_id, attempts),
                result_type=DeliverEventResult,
                start_to_close_timeout=DELIVER_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            if result.outcome == AttemptOutcome.DELIVERED:
                return True
            if result.outcome == AttemptOutcome.GONE:
                return False
            now = workflow.now()
            failing_since = failing_since or now
            wait = min(policy.max_retry_seconds, policy.first_retry_seconds * 2**failures)
            wait = max(wait, result.retry_after_seconds or 0.0)
            failures += 1
            failed_for = (now - failing_since).total_seconds()
            if (
                result.outcome == AttemptOutcome.REFUSED
                or failed_for + wait > policy.give_up_after_seconds
            ):
                # Cleared before the pause is recorded: a resume the office sends as soon as it
                # sees the pause is kept, whenever it arrives.
                self._resumed = False
                await workflow.execute_activity(
                    activity_names.PAUSE_WEBHOOK_SUBSCRIPTION,
                    PauseInput(request.subscription_id, change_id, result.detail, attempts),
                    start_to_close_timeout=RECORD_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
                await workflow.wait_condition(lambda: self._resumed)
                failing_since, failures = None, 0
                continue
            await workflow.sleep(timedelta(seconds=wait))
