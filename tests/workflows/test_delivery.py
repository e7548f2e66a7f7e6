"""Delivery on the time-skipping server with the product's worker and activities, against a
real SMTP server on loopback and an HTTP server answering as ZNS and eSMS do: retries,
fallback, dead letters, Retry-After, a worker stopped mid-wave, the night's digest."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.delivery import DeliveryConfig, delivery_config, sweep_stranded
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from config import Settings
from db.engine import make_engine
from db.models import DeadLetter, Delivery, Notification, OutboxEntry, Person, RosterEntry
from tests.conftest import PUBLIC_URL, TEMPORAL_CLI, running_worker
from tests.factories import store_directive
from tests.gateways import BRANDNAME, Gateway, SmtpSink, http_gateway, smtp_server
from vocabulary.calendar import VIETNAM
from vocabulary.delivery import delivery_workflow_id, digest_workflow_id
from vocabulary.directives import DirectivePolicy, NotificationKind
from vocabulary.roles import Role
from workflows.delivery_types import DeliveryResult
from workflows.types import NotifyInput

POLICY = DirectivePolicy(reminder_offsets_seconds=[86400], escalation=[])


@pytest.fixture(scope="module")
def engine(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_server() as sink:
        yield sink


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        yield server


def configure(
    tmp_path: Path,
    task_queue: str,
    smtp: SmtpSink | None = None,
    gateway: Gateway | None = None,
    quiet_hours: str = "",
    zns: bool = False,
) -> DeliveryConfig:
    options: dict[str, object] = {
        "data_dir": tmp_path,
        "quiet_hours": quiet_hours,
        "link_keys": "delivery-test-key",
    }
    if smtp is not None:
        options.update(smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False)
    if gateway is not None:
        options.update(
            esms_base_url=gateway.base_url,
            esms_api_key="esms-key",
            esms_secret_key="s",
            esms_brandname=BRANDNAME,
        )
        if zns:
            options.update(
                zns_base_url=gateway.base_url,
                zns_oauth_url=gateway.base_url,
                zns_app_id="app",
                zns_secret_key="zns-secret",
                zns_refresh_token="refresh-1",
                zns_templates="issued=1001,reminder=1002",
            )
    return delivery_config(Settings(**options), task_queue)  # type: ignore[arg-type]


async def record(
    env: WorkflowEnvironment,
    engine: Engine,
    config: DeliveryConfig,
    communes: list[str],
    kind: NotificationKind = NotificationKind.ISSUED,
    title: str = "Báo cáo chuyển đổi số quý IV",
) -> list[str]:
    """A planned directive and its messages of `kind`, recorded as the workflows record them;
    returns the keys of the messages that have a person."""
    now = await env.get_current_time()
    request = store_directive(
        engine, communes, now, POLICY, deadline=now + timedelta(days=5), title=title
    )
    RecordActivities(engine).plan_directive(request)
    notifications = NotificationActivities(engine, Renderer(), PUBLIC_URL, env.client, config)
    context = {"reason": "deadline", "offset_seconds": "86400"} if kind != "issued" else {}
    await notifications.record_notifications(
        NotifyInput(
            directive_id=request.directive_id,
            communes=communes,
            kind=kind,
            step="rev-1" if kind == NotificationKind.ISSUED else "offset86400s-d1",
            context=context,
        )
    )
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Notification.idempotency_key).where(
                    Notification.directive_id == request.directive_id,
                    Notification.person_id.is_not(None),
                )
            )
        )


async def delivered(
    env: WorkflowEnvironment, keys: list[str], within: timedelta = timedelta(hours=2)
) -> list[DeliveryResult]:
    """Each delivery's result once the server's clock has moved `within` on (every retry and
    backoff of these tests fits in it); a delivery still open then fails the test."""
    await env.sleep(within)
    handles = [
        env.client.get_workflow_handle(delivery_workflow_id(key), result_type=DeliveryResult)
        for key in keys
    ]
    statuses = Counter([(await h.describe()).status for h in handles])
    assert statuses == {WorkflowExecutionStatus.COMPLETED: len(keys)}
    return [await h.result() for h in handles]


def text(message: Message) -> str:
    assert isinstance(message, EmailMessage)
    return str(message.get_content())


def deliveries(engine: Engine, keys: list[str]) -> dict[str, Delivery]:
    with Session(engine) as session:
        return {
            d.notification_key: d
            for d in session.scalars(select(Delivery).where(Delivery.notification_key.in_(keys)))
        }


def leader_emails(engine: Engine, communes: list[str]) -> list[str]:
    with Session(engine) as session:
        return sorted(
            session.scalars(
                select(Person.email)
                .join(RosterEntry, RosterEntry.person_id == Person.id)
                .where(
                    RosterEntry.role == Role.COMMUNE_LEADER.value,
                    RosterEntry.scope.in_(communes),
                )
            )
        )


def communes(engine: Engine, first: int, count: int) -> list[str]:
    with Session(engine) as session:
        codes = sorted(
            set(
                session.scalars(
                    select(RosterEntry.scope).where(RosterEntry.role == Role.COMMUNE_LEADER.value)
                )
            )
        )
    return codes[first : first + count]


@contextmanager
def extra_leader(
    engine: Engine, commune: str, email: str, channels: str, phone: str
) -> Iterator[None]:
    """A second leader for a commune, for one test: the other tests count one per commune."""
    with Session(engine) as session, session.begin():
        person = Person(name=f"Người thử {email}", email=email, phone=phone, channels=channels)
        session.add(person)
        session.flush()
        entry = RosterEntry(person_id=person.id, role="commune_leader", scope=commune)
        session.add(entry)
        session.flush()
        entry_id = entry.id
    try:
        yield
    finally:
        with Session(engine) as session, session.begin():
            session.execute(delete(RosterEntry).where(RosterEntry.id == entry_id))


async def test_102_emails_with_one_in_ten_answered_451_first_are_each_delivered_once(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    codes = communes(engine, 0, 102)
    assert len(codes) == 102
    emails = leader_emails(engine, codes)
    for address in emails[:10]:
        smtp.fail_first[address] = deque(["451 4.3.0 Try again later"])
    config = configure(tmp_path, task_queue, smtp=smtp)
    async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
        keys = await record(time_env, engine, config, codes)
        results = await delivered(time_env, keys)
    assert len(keys) == 102
    assert Counter(r.state.value for r in results) == {"sent": 102}
    assert len(smtp.messages) == 102
    assert len({m["Message-ID"] for m in smtp.messages}) == 102
    assert sorted(m["To"] for m in smtp.messages) == emails
    assert Counter(smtp.attempts.values()) == {1: 92, 2: 10}
    states = deliveries(engine, keys)
    assert Counter((d.state, d.channel, d.attempts) for d in states.values()) == {
        ("sent", "email", 1): 92,
        ("sent", "email", 2): 10,
    }
    # Every issue message carries its own acknowledgement link on the public URL.
    assert sum(f"{PUBLIC_URL}/a/" in text(m) for m in smtp.messages) == 102
    with Session(engine) as session:
        outbox = list(
            session.scalars(select(OutboxEntry).where(OutboxEntry.notification_key.in_(keys)))
        )
    assert Counter(o.status for o in outbox) == {"sent": 102}


async def test_a_550_falls_back_to_the_next_channel_once_or_ends_in_a_dead_letter(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    gateway: Gateway,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    with_sms, email_only = communes(engine, 0, 2)
    for address in ("fallback@example.invalid", "nowhere@example.invalid"):
        smtp.fail_first[address] = deque(["550 5.1.1 No such user"] * 5)
    config = configure(tmp_path, task_queue, smtp=smtp, gateway=gateway)
    with (
        extra_leader(engine, with_sms, "fallback@example.invalid", "email,sms", "0912000001"),
        extra_leader(engine, email_only, "nowhere@example.invalid", "email", "0912000002"),
    ):
        async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
            keys = await record(time_env, engine, config, [with_sms, email_only])
            await delivered(time_env, keys)
            with Session(engine) as session:
                notice = list(
                    session.scalars(
                        select(Notification).where(Notification.kind == "delivery_failed")
                    )
                )
            assert len(notice) == 1
            await delivered(time_env, [notice[0].idempotency_key])

    # Each 550 was one attempt, never retried.
    assert smtp.attempts["fallback@example.invalid"] == 1
    assert smtp.attempts["nowhere@example.invalid"] == 1
    sms = [body for _, body in gateway.sent("SendMultipleMessage_V4_post_json/")]
    assert Counter(b["Phone"] for b in sms)["0912000001"] == 1
    # The two demo leaders (zalo, sms, email; no ZNS here) got theirs by SMS; so did fallback.
    assert len(sms) == 3
    states = deliveries(engine, keys)
    by_state = Counter((d.state, d.channel, d.attempts) for d in states.values())
    assert by_state == {("sent", "sms", 1): 2, ("sent", "sms", 2): 1, ("dead_lettered", None, 1): 1}
    with Session(engine) as session:
        dead = list(session.scalars(select(DeadLetter)))
    assert len(dead) == 1
    assert "550" in dead[0].reason
    # The steering office is told, by its own channel (email), once.
    office = smtp.to("van-phong@example.invalid")
    assert len(office) == 1
    assert office[0]["Subject"].startswith("[Không gửi được]")
    assert notice[0].recipient_role == "steering_office"


async def test_429_with_retry_after_is_honoured_with_the_same_idempotency_key_every_time(
    time_env: WorkflowEnvironment,
    engine: Engine,
    gateway: Gateway,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    (code,) = communes(engine, 2, 1)
    gateway.scripted.extend(
        [
            (429, {"Retry-After": "120"}, {"error": "too many requests"}),
            (500, {}, {"error": "server error"}),
        ]
    )
    config = configure(tmp_path, task_queue, gateway=gateway)
    async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
        keys = await record(time_env, engine, config, [code])
        (result,) = await delivered(time_env, keys)
        history = await time_env.client.get_workflow_handle(
            delivery_workflow_id(keys[0])
        ).fetch_history()
    assert (result.state.value, result.channel, result.attempts) == ("sent", "sms", 3)
    sent = gateway.sent("SendMultipleMessage_V4_post_json/")
    assert len(sent) == 3
    assert len({headers["idempotency-key"] for headers, _ in sent}) == 1
    assert len({body["RequestId"] for _, body in sent}) == 1
    timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToSeconds()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    # Retry-After's 120 s, then the backoff's second step (60 s) after the 500.
    assert timers == [120, 60]


@pytest.fixture(scope="module")
async def dev_server(scratch_database_url: str) -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal server: a stopping worker hands its tasks back to it, as in production
    (the time-skipping server keeps a task a stopped worker had polled until it times out, and
    its clock stands still meanwhile). One per database: workflow ids follow its keys."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), ui=False, dev_server_log_level="error"
    )
    yield env
    await env.shutdown()


async def test_a_worker_stopped_and_restarted_during_a_wave_of_102_delivers_each_once(
    dev_server: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    codes = communes(engine, 0, 102)
    smtp.data_delay = 0.2
    config = configure(tmp_path, task_queue, smtp=smtp)
    async with running_worker(dev_server.client, engine, task_queue, executor, delivery=config):
        keys = await record(dev_server, engine, config, codes, title="Đợt gửi bị gián đoạn")
        for _ in range(600):
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
        # Leaving the block stops this worker while the wave is in flight.
    before_restart = len(smtp.messages)
    async with running_worker(dev_server.client, engine, task_queue, executor, delivery=config):
        results = [
            await dev_server.client.get_workflow_handle(
                delivery_workflow_id(key), result_type=DeliveryResult
            ).result()
            for key in keys
        ]
    assert 0 < before_restart < 102
    assert Counter(r.state.value for r in results) == {"sent": 102}
    assert len(smtp.messages) == 102
    assert len({m["Message-ID"] for m in smtp.messages}) == 102
    assert len({m["To"] for m in smtp.messages}) == 102


async def test_five_reminders_due_overnight_make_one_digest_at_seven(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    (code,) = communes(engine, 3, 1)
    (leader,) = leader_emails(engine, [code])
    config = configure(tmp_path, task_queue, smtp=smtp, quiet_hours="21:00-07:00")
    now = (await time_env.get_current_time()).astimezone(VIETNAM)
    ten_pm = now.replace(hour=22, minute=0, second=0, microsecond=0)
    if ten_pm <= now:
        ten_pm += timedelta(days=1)
    await time_env.sleep(ten_pm - now)
    seven_am = ten_pm.replace(hour=7) + timedelta(days=1)
    async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
        keys: list[str] = []
        for n in range(5):
            keys += await record(
                time_env,
                engine,
                config,
                [code],
                kind=NotificationKind.REMINDER,
                title=f"Việc thứ {n + 1}",
            )
        results = await delivered(time_env, keys)
        assert Counter(r.state.value for r in results) == {"in_digest": 5}
        await time_env.sleep(seven_am - timedelta(minutes=1) - await time_env.get_current_time())
        assert smtp.to(leader) == []
        person = deliveries(engine, keys)[keys[0]].person_id
        digest = time_env.client.get_workflow_handle(
            digest_workflow_id(f"digest:{person}:{seven_am.date().isoformat()}"),
            result_type=DeliveryResult,
        )
        await time_env.sleep(timedelta(minutes=2))
        description = await digest.describe()
        assert description.status == WorkflowExecutionStatus.COMPLETED
        result = await digest.result()
    assert (result.state.value, result.channel) == ("sent", "email")
    assert description.close_time is not None
    assert description.close_time.astimezone(VIETNAM).strftime("%H:%M") == "07:00"
    (message,) = smtp.to(leader)
    body = text(message)
    assert message["Subject"] == "[Tổng hợp] 5 việc cần xử lý"
    assert [f"Việc thứ {n}" in body for n in range(1, 6)] == [True] * 5
    assert body.count(f"{PUBLIC_URL}/a/") == 5
    assert Counter(d.state for d in deliveries(engine, keys).values()) == {"sent": 5}


async def test_messages_recorded_but_never_started_are_swept_and_delivered_once(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    codes = communes(engine, 4, 3)
    config = configure(tmp_path, task_queue, smtp=smtp)
    now = await time_env.get_current_time()
    request = store_directive(engine, codes, now, POLICY, deadline=now + timedelta(days=5))
    RecordActivities(engine).plan_directive(request)
    # The activity stopped after recording: no client, no delivery started.
    await NotificationActivities(engine, Renderer(), PUBLIC_URL, None, config).record_notifications(
        NotifyInput(
            directive_id=request.directive_id,
            communes=codes,
            kind=NotificationKind.ISSUED,
            step="rev-1",
        )
    )
    with Session(engine) as session, session.begin():
        keys = list(
            session.scalars(
                select(Notification.idempotency_key).where(
                    Notification.directive_id == request.directive_id
                )
            )
        )
        assert await sweep_stranded(time_env.client, config, engine) == 0  # not stranded yet
        session.execute(
            update(Delivery)
            .where(Delivery.notification_key.in_(keys))
            .values(updated_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
        assert await sweep_stranded(time_env.client, config, engine) == 3
        results = await delivered(time_env, keys)
        assert await sweep_stranded(time_env.client, config, engine) == 0
    assert Counter(r.state.value for r in results) == {"sent": 3}
    assert len(smtp.messages) == 3


async def test_past_the_daily_cap_a_message_waits_for_the_next_morning(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    (code,) = communes(engine, 7, 1)
    (leader,) = leader_emails(engine, [code])
    config = configure(tmp_path, task_queue, smtp=smtp, quiet_hours="21:00-07:00")
    config.policy.daily_cap = 2
    now = (await time_env.get_current_time()).astimezone(VIETNAM)
    ten_am = now.replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=1)
    await time_env.sleep(ten_am - now)
    keys: list[str] = []
    async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
        for n in range(3):
            keys += await record(time_env, engine, config, [code], title=f"Giới hạn {n + 1}")
            await time_env.sleep(timedelta(minutes=10))
        await time_env.sleep(timedelta(hours=2))
        assert len(smtp.to(leader)) == 2
        assert [d.state for d in deliveries(engine, keys[2:]).values()] == ["held_daily_cap"]
        next_morning = ten_am.replace(hour=7) + timedelta(days=1)
        results = await delivered(
            time_env, keys, within=next_morning + timedelta(minutes=1) - ten_am
        )
        third = await time_env.client.get_workflow_handle(delivery_workflow_id(keys[2])).describe()
    assert [r.state.value for r in results] == ["sent"] * 3
    assert [m["Subject"].split("]")[1].split("—")[0].strip() for m in smtp.to(leader)] == [
        "Giới hạn 1",
        "Giới hạn 2",
        "Giới hạn 3",
    ]
    assert third.close_time is not None
    assert third.close_time.astimezone(VIETNAM).strftime("%d %H:%M") == next_morning.strftime(
        "%d %H:%M"
    )


async def test_a_refused_zns_refresh_during_a_wave_of_102_sends_each_by_sms_and_tells_once(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    gateway: Gateway,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    codes = communes(engine, 0, 102)
    # The configured refresh token was used by someone else: Zalo refuses it.
    gateway.refresh_token = "handed-out-after-a-re-authorisation-elsewhere"
    config = configure(tmp_path, task_queue, smtp=smtp, gateway=gateway, zns=True)
    async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
        keys = await record(time_env, engine, config, codes, title="Đợt gửi khi Zalo ngừng")
        results = await delivered(time_env, keys)
        with Session(engine) as session:
            notices = list(
                session.scalars(
                    select(Notification).where(Notification.step.like("zalo-unavailable-%"))
                )
            )
        assert len(notices) == 1
        await delivered(time_env, [notices[0].idempotency_key])
    # Every leader (zalo, sms, email) got the message by SMS, Zalo's failure counted as one
    # attempt and no retry waited for.
    assert Counter((r.state.value, r.channel, r.attempts) for r in results) == {
        ("sent", "sms", 2): 102
    }
    assert len(gateway.sent("SendMultipleMessage_V4_post_json/")) == 102
    assert gateway.sent("/message/template") == []
    # One refresh asked and refused; the refused token was not offered again.
    assert (gateway.refreshes, gateway.refused_refreshes) == (0, 1)
    with Session(engine) as session:
        zalo = Counter(
            (o.status, o.attempts)
            for o in session.scalars(
                select(OutboxEntry).where(
                    OutboxEntry.notification_key.in_(keys), OutboxEntry.channel == "zalo"
                )
            )
        )
    assert zalo == {("failed", 1): 102}
    (told,) = smtp.to("van-phong@example.invalid")
    assert told["Subject"].startswith("[Kênh zalo ngừng gửi] Zalo unavailable: token refresh")
