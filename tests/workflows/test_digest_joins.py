"""A night's digest and the messages that come late for it, on the time-skipping server with the
product's delivery workflows and activities, against a real SMTP server on loopback: a message
joining once the digest has taken its items goes out in the next round of the digest, once;
the sweep delivers a message left in a digest that ended without it."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels.base import Channel, OutgoingMessage, SendResult
from activities.delivery import DeliveryActivities, DeliveryConfig, sweep_stranded
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from db.engine import make_engine
from db.models import Delivery, Notification
from tests.conftest import PUBLIC_URL, max_cached_workflows
from tests.factories import store_directive
from tests.gateways import SmtpSink, smtp_server
from tests.workflows.helpers import advance_to
from tests.workflows.test_delivery import (
    POLICY,
    communes,
    configure,
    deliveries,
    leader_emails,
    record,
    text,
)
from vocabulary.calendar import VIETNAM
from vocabulary.delivery import delivery_workflow_id, digest_workflow_id
from vocabulary.directives import NotificationKind
from worker import DELIVERY_WORKFLOWS, WORKFLOW_RUNNER
from workflows import delivery_names
from workflows.delivery import DigestWorkflow
from workflows.delivery_types import (
    DeliveryResult,
    DigestInput,
    DigestItem,
    JoinDigestInput,
    JoinDigestResult,
)
from workflows.types import NotifyInput


@pytest.fixture(scope="module")
def engine(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_server() as sink:
        yield sink


@asynccontextmanager
async def delivery_worker(
    env: WorkflowEnvironment,
    engine: Engine,
    config: DeliveryConfig,
    executor: ThreadPoolExecutor,
    join_waits_for: Callable[[JoinDigestInput], bool] = lambda _: False,
) -> AsyncIterator[Worker]:
    """The product's delivery workflows and activities on the config's task queue. A join for
    which `join_waits_for` holds fails (the server did not answer) and is retried, with the
    activity's own backoff, until it no longer holds."""
    sending = DeliveryActivities(engine, env.client, config)

    @activity.defn(name=delivery_names.JOIN_DIGEST)
    async def join_digest(request: JoinDigestInput) -> JoinDigestResult:
        if join_waits_for(request):
            raise ApplicationError("the workflow service did not answer")
        return await sending.join_digest(request)

    async with Worker(
        env.client,
        task_queue=config.task_queue,
        workflows=DELIVERY_WORKFLOWS,
        activities=[
            sending.send_message,
            sending.set_delivery_state,
            sending.record_dead_letter,
            join_digest,
        ],
        activity_executor=executor,
        workflow_runner=WORKFLOW_RUNNER,
        max_cached_workflows=max_cached_workflows(),
    ) as worker:
        yield worker


async def next_local(env: WorkflowEnvironment, hour: int, minute: int = 0) -> datetime:
    """The next moment the clock in Vietnam shows hour:minute, by the server's clock."""
    now = (await env.get_current_time()).astimezone(VIETNAM)
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


async def test_a_message_joining_while_the_digest_sends_goes_once_in_the_next_round(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    (code,) = communes(engine, 10, 1)
    (leader,) = leader_emails(engine, [code])
    # The digest's first send is answered "later": it has taken its items and is retrying.
    smtp.fail_first[leader] = deque(["451 4.3.0 Try again later"])
    config = configure(tmp_path, task_queue, smtp=smtp, quiet_hours="21:00-07:00")
    await advance_to(time_env, await next_local(time_env, 22))
    seven_am = await next_local(time_env, 7)
    late: list[str] = []

    def joins_after_the_digest_took_its_items(request: JoinDigestInput) -> bool:
        # A late message's join reaches the digest only after the digest's first send.
        return request.item.notification_key in late and smtp.attempts[leader] == 0

    async with delivery_worker(
        time_env, engine, config, executor, joins_after_the_digest_took_its_items
    ):
        (early,) = await record(
            time_env, engine, config, [code], NotificationKind.REMINDER, title="Việc trong đêm"
        )
        await time_env.client.get_workflow_handle(delivery_workflow_id(early)).result()
        await advance_to(time_env, seven_am - timedelta(seconds=30))
        late += await record(
            time_env, engine, config, [code], NotificationKind.REMINDER, title="Việc đến muộn"
        )
        # Past the night's digest time, its retry 30 s later, and the late message's joining.
        await advance_to(time_env, seven_am + timedelta(minutes=5))
        joined = await time_env.client.get_workflow_handle(
            delivery_workflow_id(late[0]), result_type=DeliveryResult
        ).result()
        # Each message went out: none is left in a digest.
        states = deliveries(engine, [early, *late])
        assert {k: (d.state, d.channel) for k, d in states.items()} == {
            early: ("sent", "email"),
            late[0]: ("sent", "email"),
        }
        person = states[early].person_id
        night = f"digest:{person}:{seven_am.date().isoformat()}"
        first, second = (
            time_env.client.get_workflow_handle(digest_workflow_id(key), result_type=DeliveryResult)
            for key in (night, f"{night}:2")
        )
        results = [await first.result(), await second.result()]
        items = [await first.query(DigestWorkflow.items), await second.query(DigestWorkflow.items)]
        closed = [(await first.describe()).close_time, (await second.describe()).close_time]

    assert joined.state.value == "in_digest"
    assert items == [[early], late]
    assert [(r.state.value, r.channel) for r in results] == [("sent", "email")] * 2
    # The late message's round goes out when it joins; the night's after its 30 s retry.
    messages = smtp.to(leader)
    assert [m["Subject"] for m in messages] == ["[Tổng hợp] 1 việc cần xử lý"] * 2
    assert [("Việc đến muộn" in text(m), "Việc trong đêm" in text(m)) for m in messages] == [
        (True, False),
        (False, True),
    ]
    assert [c is not None and c.astimezone(VIETNAM).strftime("%H:%M") for c in closed] == [
        "07:00",
        "07:00",
    ]


class HeldDigests:
    """A channel whose digests wait, once sent to the provider, until the test releases them."""

    def __init__(self, channel: Channel) -> None:
        self.name = channel.name
        self._channel = channel
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    @property
    def configured(self) -> bool:
        return self._channel.configured

    async def send(self, message: OutgoingMessage) -> SendResult:
        if message.kind == "digest":
            self.sending.set()
            await self.release.wait()
        return await self._channel.send(message)


async def test_a_join_asked_while_the_digest_sends_is_too_late_and_asked_again_finds_its_round(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    (code,) = communes(engine, 12, 1)
    (leader,) = leader_emails(engine, [code])
    config = configure(tmp_path, task_queue, smtp=smtp, quiet_hours="21:00-07:00")
    held = HeldDigests(config.channels["email"])
    config.channels["email"] = held
    await advance_to(time_env, await next_local(time_env, 22))
    seven_am = await next_local(time_env, 7)
    async with delivery_worker(time_env, engine, config, executor):
        (early,) = await record(
            time_env, engine, config, [code], NotificationKind.REMINDER, title="Việc trong đêm"
        )
        await time_env.client.get_workflow_handle(delivery_workflow_id(early)).result()
        await advance_to(time_env, seven_am - timedelta(seconds=1))
        person = deliveries(engine, [early])[early].person_id
        assert person is not None
        night = f"digest:{person}:{seven_am.date().isoformat()}"
        first = time_env.client.get_workflow_handle(
            digest_workflow_id(night), result_type=DeliveryResult
        )
        first_sent = asyncio.create_task(first.result())
        await asyncio.wait_for(held.sending.wait(), timeout=30)
        # The night's digest is with the provider: a message asking now, and its retry.
        late = await recorded_without_delivery(time_env, engine, config, code, "Việc đến muộn")
        join = JoinDigestInput(
            digest=DigestInput(
                person_id=person,
                digest_key=night,
                send_at=seven_am,
                channels=["email"],
                policy=config.policy,
            ),
            item=DigestItem(late),
            task_queue=task_queue,
        )
        joiner = DeliveryActivities(engine, time_env.client, config)
        answers = [await joiner.join_digest(join), await joiner.join_digest(join)]
        held.release.set()
        results = [await first_sent]
        # The night's digest went out with the items it had taken, and holds no other.
        assert await first.query(DigestWorkflow.items) == [early]
        assert answers == [JoinDigestResult(joined=True, digest_key=f"{night}:2")] * 2
        results.append(
            await time_env.client.get_workflow_handle(
                digest_workflow_id(f"{night}:2"), result_type=DeliveryResult
            ).result()
        )
        # Asked once both have gone out, the message is still where it went: round 2.
        again = await joiner.join_digest(join)

    assert again == JoinDigestResult(joined=True, digest_key=f"{night}:2")
    assert [(r.state.value, r.channel) for r in results] == [("sent", "email")] * 2
    bodies = [text(m) for m in smtp.to(leader)]
    assert sorted(("Việc trong đêm" in b, "Việc đến muộn" in b) for b in bodies) == [
        (False, True),
        (True, False),
    ]
    assert {k: d.state for k, d in deliveries(engine, [early, late]).items()} == {
        early: "sent",
        late: "sent",
    }


async def test_the_sweep_delivers_a_message_left_in_a_digest_that_ended_without_it(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    (code,) = communes(engine, 11, 1)
    (leader,) = leader_emails(engine, [code])
    config = configure(tmp_path, task_queue, smtp=smtp, quiet_hours="21:00-07:00")
    await advance_to(time_env, await next_local(time_env, 22))
    morning = await next_local(time_env, 7)
    async with delivery_worker(time_env, engine, config, executor):
        (sent,) = await record(
            time_env, engine, config, [code], NotificationKind.REMINDER, title="Việc đã gửi"
        )
        person = deliveries(engine, [sent])[sent].person_id
        night = f"digest:{person}:{morning.date().isoformat()}"
        await advance_to(time_env, morning + timedelta(minutes=5))
        assert await time_env.client.get_workflow_handle(digest_workflow_id(night)).result()
        # Two messages the night's digest went out without: one that joined after it took its
        # items, its digest named; one put in a digest before digests were named, days ago.
        lost, unnamed = [
            await recorded_without_delivery(time_env, engine, config, code, title)
            for title in ("Việc bị bỏ sót", "Việc bỏ sót từ trước")
        ]
        left_in_digest(engine, lost, night, datetime.now(UTC) - timedelta(minutes=10))
        left_in_digest(engine, unnamed, "", datetime.now(UTC) - timedelta(days=4))
        # The next night, a message in the digest still to go out is left where it is.
        await advance_to(time_env, await next_local(time_env, 22))
        (waiting,) = await record(
            time_env, engine, config, [code], NotificationKind.REMINDER, title="Việc đang chờ"
        )
        await time_env.client.get_workflow_handle(delivery_workflow_id(waiting)).result()
        backdate(engine, waiting, datetime.now(UTC) - timedelta(minutes=10))

        assert await sweep_stranded(time_env.client, config, engine) == 2
        for key in (lost, unnamed):
            again = time_env.client.get_workflow_handle(
                delivery_workflow_id(key), result_type=DeliveryResult
            )
            assert (await again.result()).state.value == "in_digest"
        # Both are in tonight's digest now: nothing more to sweep.
        backdate(engine, lost, datetime.now(UTC) - timedelta(minutes=10))
        assert await sweep_stranded(time_env.client, config, engine) == 0
        next_morning = morning + timedelta(days=1)
        await advance_to(time_env, next_morning + timedelta(minutes=5))
        next_night = f"digest:{person}:{next_morning.date().isoformat()}"
        digest = time_env.client.get_workflow_handle(
            digest_workflow_id(next_night), result_type=DeliveryResult
        )
        result = await digest.result()
        items = await digest.query(DigestWorkflow.items)
        assert (await digest.describe()).status == WorkflowExecutionStatus.COMPLETED

    assert result.state.value == "sent"
    assert sorted(items) == sorted([waiting, lost, unnamed])
    assert [m["Subject"] for m in smtp.to(leader)] == [
        "[Tổng hợp] 1 việc cần xử lý",
        "[Tổng hợp] 3 việc cần xử lý",
    ]
    bodies = [text(m) for m in smtp.to(leader)]
    assert [b.count("Việc bị bỏ sót") for b in bodies] == [0, 1]
    assert [b.count("Việc bỏ sót từ trước") for b in bodies] == [0, 1]
    states = deliveries(engine, [sent, lost, unnamed, waiting])
    assert {k: d.state for k, d in states.items()} == dict.fromkeys(
        [sent, lost, unnamed, waiting], "sent"
    )


async def recorded_without_delivery(
    env: WorkflowEnvironment, engine: Engine, config: DeliveryConfig, code: str, title: str
) -> str:
    """A reminder recorded with no delivery workflow started for it: its key."""
    now = await env.get_current_time()
    request = store_directive(
        engine, [code], now, POLICY, deadline=now + timedelta(days=5), title=title
    )
    RecordActivities(engine).plan_directive(request)
    await NotificationActivities(engine, Renderer(), PUBLIC_URL, None, config).record_notifications(
        NotifyInput(
            directive_id=request.directive_id,
            communes=[code],
            kind=NotificationKind.REMINDER,
            step="offset86400s-d1",
            context={"reason": "deadline", "offset_seconds": "86400"},
        )
    )
    with Session(engine) as session:
        return session.scalars(
            select(Notification.idempotency_key).where(
                Notification.directive_id == request.directive_id,
                Notification.person_id.is_not(None),
            )
        ).one()


def left_in_digest(engine: Engine, key: str, digest_key: str, joined: datetime) -> None:
    """The state a delivery wrote when its message joined `digest_key` (empty: unnamed)."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(Delivery)
            .where(Delivery.notification_key == key)
            .values(state="in_digest", detail=digest_key, seq=1, updated_at=joined)
        )


def backdate(engine: Engine, key: str, joined: datetime) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(Delivery).where(Delivery.notification_key == key).values(updated_at=joined)
        )
