"""Delivery of one message to its person, and of one person's digest of a night.

The workflow owns time and policy: quiet hours in Vietnam time (durable timers to their end),
the digest a night's reminders join, the daily cap, the channel order with fallback on a
permanent failure, retries with backoff (or the provider's Retry-After) on temporary ones (a
retry due in quiet hours waits for their end), and a dead letter with a notice to the steering
office when every channel has failed. Each send is one activity backed by the outbox's unique
(key, channel) row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from vocabulary.delivery import DeliveryPolicy, DeliveryState, SendStatus
    from workflows import delivery_names
    from workflows.delivery_types import (
        DeadLetterInput,
        DeliveryInput,
        DeliveryResult,
        DeliveryStateInput,
        DigestInput,
        DigestItem,
        DigestJoinAnswer,
        JoinDigestInput,
        JoinDigestResult,
        SendInput,
        SendOutcome,
    )
    from workflows.policies import ACTIVITY_RETRY

SEND_TIMEOUT = timedelta(minutes=2)
RECORD_TIMEOUT = timedelta(seconds=30)
# Each delivery activity's start-to-close timeout, the one place it is set: every call goes
# through _execute, with the product's retry policy.
ACTIVITY_TIMEOUTS = {
    delivery_names.SEND_MESSAGE: SEND_TIMEOUT,
    delivery_names.SET_DELIVERY_STATE: RECORD_TIMEOUT,
    delivery_names.RECORD_DEAD_LETTER: RECORD_TIMEOUT,
    delivery_names.JOIN_DIGEST: RECORD_TIMEOUT,
}
# Attempts on one channel before it counts as failed for this message.
MAX_ATTEMPTS_PER_CHANNEL = 8
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
# Kinds never held for quiet hours, a digest or the daily cap.
URGENT_KINDS = frozenset({"escalation", "delivery_failed"})
DAY_MINUTES = 24 * 60
# Deliveries that retried before this retried when due, quiet hours or not.
RETRIES_WAIT_OUT_QUIET_HOURS = "delivery-retries-wait-out-quiet-hours"


def in_quiet_hours(policy: DeliveryPolicy, moment: datetime) -> bool:
    start, end = policy.quiet_start_minutes, policy.quiet_end_minutes
    if start is None or end is None or start == end:
        return False
    local = moment.astimezone(timezone(timedelta(minutes=policy.utc_offset_minutes)))
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def next_local_time(policy: DeliveryPolicy, moment: datetime, minutes: int) -> datetime:
    """The first moment at or after `moment` when the local clock shows `minutes`."""
    zone = timezone(timedelta(minutes=policy.utc_offset_minutes))
    local = moment.astimezone(zone)
    at = local.replace(hour=minutes // 60, minute=minutes % 60, second=0, microsecond=0)
    if at < local:
        at += timedelta(days=1)
    return at


def local_date(policy: DeliveryPolicy, moment: datetime) -> str:
    zone = timezone(timedelta(minutes=policy.utc_offset_minutes))
    return moment.astimezone(zone).date().isoformat()


async def _execute(activity: str, request: Any, result_type: type | None = None) -> Any:
    return await workflow.execute_activity(
        activity,
        request,
        start_to_close_timeout=ACTIVITY_TIMEOUTS[activity],
        retry_policy=ACTIVITY_RETRY,
        result_type=result_type,
    )


@dataclass
class _Progress:
    seq: int = 0
    attempts: int = 0


async def _set_state(
    progress: _Progress, keys: list[str], state: DeliveryState, channel: str = "", detail: str = ""
) -> None:
    progress.seq += 1
    await _execute(
        delivery_names.SET_DELIVERY_STATE,
        DeliveryStateInput(
            notification_keys=keys,
            state=state,
            seq=progress.seq,
            attempts=progress.attempts,
            channel=channel,
            detail=detail[:500],
        ),
    )


async def _wait_to_retry(policy: DeliveryPolicy, kind: str, delay: timedelta) -> None:
    """Wait `delay` for the next attempt; one that would fall due in quiet hours waits for their
    end, as a first send does (escalations are never held)."""
    due = workflow.now() + delay
    if (
        kind not in URGENT_KINDS
        and in_quiet_hours(policy, due)
        and workflow.patched(RETRIES_WAIT_OUT_QUIET_HOURS)
    ):
        assert policy.quiet_end_minutes is not None
        due = next_local_time(policy, due, policy.quiet_end_minutes)
    await workflow.sleep(due - workflow.now())


async def _send_over_channels(
    progress: _Progress,
    key: str,
    person_id: int,
    kind: str,
    channels: list[str],
    policy: DeliveryPolicy,
    state_keys: list[str],
    digest_items: list[str] | None = None,
) -> DeliveryResult:
    """Each channel in order until one accepts; the dead letter when none does."""
    failures: list[str] = []
    for channel in channels:
        tries = 0
        while True:
            progress.seq += 1
            outcome: SendOutcome = await _execute(
                delivery_names.SEND_MESSAGE,
                SendInput(
                    notification_key=key,
                    channel=channel,
                    person_id=person_id,
                    kind=kind,
                    digest_items=digest_items or [],
                    daily_cap=0 if kind in URGENT_KINDS else policy.daily_cap,
                    utc_offset_minutes=policy.utc_offset_minutes,
                    state_keys=state_keys,
                    state_seq=progress.seq,
                    attempts=progress.attempts + 1,
                    at=workflow.now(),
                ),
                result_type=SendOutcome,
            )
            if outcome.status == SendStatus.CAPPED:
                # Tomorrow, when quiet hours end (or at midnight without them).
                wake = next_local_time(policy, workflow.now(), policy.quiet_end_minutes or 0)
                if wake <= workflow.now():
                    wake += timedelta(days=1)
                await _set_state(
                    progress, state_keys, DeliveryState.HELD_DAILY_CAP, detail=outcome.detail
                )
                await workflow.sleep(wake - workflow.now())
                continue
            tries += 1
            progress.attempts += 1
            # The send activity has written these two states itself.
            if outcome.status == SendStatus.ACCEPTED:
                return DeliveryResult(DeliveryState.SENT, channel, progress.attempts)
            if outcome.status == SendStatus.AMBIGUOUS:
                return DeliveryResult(DeliveryState.UNCONFIRMED, channel, progress.attempts)
            if outcome.status == SendStatus.PERMANENT or tries >= MAX_ATTEMPTS_PER_CHANNEL:
                failures.append(f"{channel}: {outcome.detail}")
                break
            backoff = min(FIRST_RETRY_SECONDS * 2 ** (tries - 1), MAX_RETRY_SECONDS)
            delay = (
                outcome.retry_after_seconds if outcome.retry_after_seconds is not None else backoff
            )
            await _set_state(progress, state_keys, DeliveryState.RETRYING, channel, outcome.detail)
            await _wait_to_retry(policy, kind, timedelta(seconds=max(delay, 1.0)))
    reason = "; ".join(failures) or "no channel"
    await _set_state(progress, state_keys, DeliveryState.FAILED, detail=reason)
    await _execute(
        delivery_names.RECORD_DEAD_LETTER,
        DeadLetterInput(notification_key=key, reason=reason, escalate=kind not in URGENT_KINDS),
    )
    await _set_state(progress, state_keys, DeliveryState.DEAD_LETTERED, detail=reason)
    return DeliveryResult(DeliveryState.DEAD_LETTERED, "", progress.attempts)


@workflow.defn(name="Delivery")
class DeliveryWorkflow:
    @workflow.run
    async def run(self, request: DeliveryInput) -> DeliveryResult:
        policy = request.policy
        progress = _Progress(seq=request.first_seq)
        keys = [request.notification_key]
        now = workflow.now()
        if request.kind not in URGENT_KINDS and in_quiet_hours(policy, now):
            assert policy.quiet_end_minutes is not None
            ends = next_local_time(policy, now, policy.quiet_end_minutes)
            if request.kind in policy.digest_kinds:
                send_at = (
                    next_local_time(policy, ends, policy.digest_minutes)
                    if policy.digest_minutes is not None
                    else ends
                )
                digest = DigestInput(
                    person_id=request.person_id,
                    digest_key=f"digest:{request.person_id}:{local_date(policy, send_at)}",
                    send_at=send_at,
                    channels=request.channels,
                    policy=policy,
                )
                joined: JoinDigestResult = await _execute(
                    delivery_names.JOIN_DIGEST,
                    JoinDigestInput(
                        digest=digest,
                        item=DigestItem(request.notification_key),
                        task_queue=request.task_queue,
                    ),
                    result_type=JoinDigestResult,
                )
                if joined.joined:
                    # The digest's key lets the sweep find a message its digest ended without.
                    await _set_state(
                        progress, keys, DeliveryState.IN_DIGEST, detail=joined.digest_key
                    )
                    return DeliveryResult(DeliveryState.IN_DIGEST)
            await _set_state(progress, keys, DeliveryState.WAITING_QUIET_HOURS)
            await workflow.sleep(ends - workflow.now())
        return await _send_over_channels(
            progress,
            request.notification_key,
            request.person_id,
            request.kind,
            request.channels,
            policy,
            keys,
        )


@workflow.defn(name="Digest")
class DigestWorkflow:
    """One person's digest of a night: the items that join before `send_at` go out together,
    once, as one message. A message asking to join once the digest has taken its items is told
    it is too late (and joins the next round of the digest instead)."""

    @workflow.init
    def __init__(self, request: DigestInput) -> None:
        self._items: list[str] = []
        # Set when the digest takes its items to send: nothing joins after that.
        self._taken = False

    @workflow.signal
    def add_item(self, item: DigestItem) -> None:
        """How items joined before joining was an update (the recorded histories replay it)."""
        if item.notification_key not in self._items:
            self._items.append(item.notification_key)

    @workflow.update
    def join(self, item: DigestItem) -> DigestJoinAnswer:
        """Take one message, or answer that it is too late; asking again answers the same."""
        if item.notification_key in self._items:
            return DigestJoinAnswer(accepted=True)
        if self._taken:
            return DigestJoinAnswer(accepted=False)
        self._items.append(item.notification_key)
        return DigestJoinAnswer(accepted=True)

    @workflow.query
    def items(self) -> list[str]:
        return list(self._items)

    @workflow.run
    async def run(self, request: DigestInput) -> DeliveryResult:
        if workflow.patched("digest-joined-by-update"):
            # Started by its first item's update (update-with-start), which may be handled
            # after this begins: a later round's digest, already due, waits for it.
            await workflow.wait_condition(lambda: bool(self._items))
        left = request.send_at - workflow.now()
        if left > timedelta(0):
            await workflow.sleep(left)
        self._taken = True
        items = list(self._items)
        # Its state writes come after those of the items' own workflows (in_digest).
        return await _send_over_channels(
            _Progress(seq=1000),
            request.digest_key,
            request.person_id,
            "digest",
            request.channels,
            request.policy,
            [request.digest_key, *items],
            digest_items=items,
        )
