"""A dossier's and a feedback's messages to people on the roster are delivered as a directive's
are, on each person's channels in their order: a dossier that runs late on the time-skipping
server, a real SMTP server on loopback, each reminder and escalation email received once and
shown sent; the applicant's apology stays recorded only. With Zalo and SMS configured (the
strict stand-in providers of tests/gateways.py), a Zalo-first person gets a case's message by
ZNS with exactly its template's registered parameters, an SMS-first one by SMS with the case's
own short text, and a kind with no ZNS template goes on the person's next channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.delivery import DeliveryConfig, delivery_config
from activities.procedures import ProcedureActivities
from activities.rendering import Renderer
from config import Settings
from db.engine import make_engine
from db.models import Delivery, Dossier, Feedback, Notification, OutboxEntry, Person
from tests.conftest import PUBLIC_URL, running_worker
from tests.gateways import BRANDNAME, Gateway, SmtpSink, ZnsParam, http_gateway, smtp_server
from tests.procedure_factories import store_dossier, store_feedback
from tests.scenario_dates import DAY, at, next_tet, server_now
from tests.workflows.helpers import advance_to
from vocabulary.cases import CaseNotificationKind, dossier_workflow_id, feedback_workflow_id
from vocabulary.delivery import delivery_workflow_id
from vocabulary.roles import Role
from workflows.dossier import DossierWorkflow
from workflows.procedure_types import CaseNotifyInput, CaseNotifyResult, DossierStepInput

# Tách hộ: 5 working days (DVC).
FIVE_WORKING_DAYS = "1.010038"
OFFICER = "commune_leader:một cửa"
# The commune leader of 24133 on the demo roster: channels "zalo,sms,email".
LEADER = "lanh-dao-24133@example.invalid"
# 17:00 on Fri 12 Mar 2027 in Vietnam: the due time the tests give their case.
DUE = datetime(2027, 3, 12, 10, 0, tzinfo=UTC)
# The dossier reminder's template as an office registers it with Zalo, and declares it here.
DOSSIER_REMINDER_TEMPLATE = {
    "ten_can_bo": ZnsParam("string", 30),
    "ma_ho_so": ZnsParam("string", 20),
    "tieu_de": ZnsParam("string", 40),
    "don_vi": ZnsParam("string", 30),
    "han_xu_ly": ZnsParam("date", 10),
    "lien_ket": ZnsParam("string", 200),
}
# What the office is told when a channel cannot send or a message is undeliverable.
OFFICE_NOTICES = ("channel_unavailable", "delivery_failed")
ZNS_TEMPLATES = (
    "dossier_reminder=4001|ten_can_bo:string:30|ma_ho_so:string:20|tieu_de:string:40"
    "|don_vi:string:30|han_xu_ly:date:10|lien_ket:string:200"
)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_server() as sink:
        yield sink


@pytest.fixture(scope="module")
def roster_engine(scratch_database_url: str) -> Iterator[Engine]:
    """A database of this module's own: these tests change the leader's channels."""
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        server.zns_templates["4001"] = DOSSIER_REMINDER_TEMPLATE
        yield server


def configure(tmp_path: Path, task_queue: str, smtp: SmtpSink) -> DeliveryConfig:
    return delivery_config(
        Settings(
            data_dir=tmp_path,
            quiet_hours="",
            link_keys="case-delivery-key",
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_starttls=False,
        ),
        task_queue,
    )


async def test_a_late_dossier_s_reminder_and_escalations_are_emailed_once_each(
    time_env: WorkflowEnvironment,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    env = time_env
    # Received on the fourth working day before the next Tết: due the second working day after.
    tet = next_tet(await server_now(env))
    received = at(tet.received)
    await advance_to(env, received)
    request = store_dossier(engine, FIVE_WORKING_DAYS, "24133", received)
    case_id = dossier_workflow_id(request.dossier_id)
    config = configure(tmp_path, task_queue, smtp)
    step = DossierStepInput(actor=OFFICER)
    async with running_worker(env.client, engine, task_queue, executor, delivery=config):
        handle = await env.client.start_workflow(
            DossierWorkflow.run, request, id=case_id, task_queue=task_queue
        )
        # Due at 17:00 (in 2027 Fri 12 Feb, Tết between): the reminder a day before, the
        # apology on the due day at 13:00, the ladder one and three days after the due time.
        await advance_to(env, at(tet.due + 4 * DAY))
        await handle.execute_update(DossierWorkflow.result_ready, step)
        await handle.execute_update(DossierWorkflow.returned, step)
        await handle.result()
        with Session(engine) as session:
            keys = list(
                session.scalars(
                    select(Notification.idempotency_key)
                    .where(Notification.case_id == case_id, Notification.person_id.is_not(None))
                    .order_by(Notification.id)
                )
            )
        assert len(keys) == 3
        for key in keys:
            delivery = env.client.get_workflow_handle(delivery_workflow_id(key))
            await delivery.result()
            assert (await delivery.describe()).status == WorkflowExecutionStatus.COMPLETED

    # One email each, at the SMTP server, with its own Message-ID.
    assert sorted(m["To"] for m in smtp.messages) == [
        "can-bo-04@example.invalid",
        "lanh-dao-24133@example.invalid",
        "van-phong@example.invalid",
    ]
    assert len({m["Message-ID"] for m in smtp.messages}) == 3
    (reminder,) = smtp.to("lanh-dao-24133@example.invalid")
    assert str(reminder["Subject"]).startswith("[Nhắc hạn hồ sơ]")
    with Session(engine) as session:
        shown = {
            (n.kind, n.step, n.recipient_role): (n.recipient, state, channel)
            for n, state, channel in session.execute(
                select(Notification, Delivery.state, Delivery.channel)
                .outerjoin(Delivery, Delivery.notification_key == Notification.idempotency_key)
                .where(Notification.case_id == case_id)
            )
        }
        outbox = sorted(
            session.execute(
                select(OutboxEntry.channel, OutboxEntry.status).where(
                    OutboxEntry.notification_key.in_(keys)
                )
            ).all()
        )
    assert shown == {
        ("dossier_reminder", "reminder-86400s-d1", "commune_leader"): (
            "lanh-dao-24133@example.invalid",
            "sent",
            "email",
        ),
        ("dossier_escalation", "level-1", "official_in_charge"): (
            "can-bo-04@example.invalid",
            "sent",
            "email",
        ),
        ("dossier_escalation", "level-2", "steering_office"): (
            "van-phong@example.invalid",
            "sent",
            "email",
        ),
        # The applicant's apology is recorded, not delivered: no delivery row.
        ("dossier_apology", "apology", "applicant"): ("nguoi.nop@example.invalid", None, None),
    }
    assert [tuple(row) for row in outbox] == [("email", "sent")] * 3


async def test_a_retry_after_a_crash_between_recording_and_starting_delivers_once(
    time_env: WorkflowEnvironment,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    env = time_env
    now = await env.get_current_time()
    request = store_dossier(engine, FIVE_WORKING_DAYS, "24133", now)
    case_id = dossier_workflow_id(request.dossier_id)
    config = configure(tmp_path, task_queue, smtp)
    message = CaseNotifyInput(
        case_id=case_id,
        commune_code="24133",
        kind=CaseNotificationKind.DOSSIER_ESCALATION,
        step="level-1",
        to=Role.OFFICIAL_IN_CHARGE.value,
        context={"due_at": request.due_at.isoformat(), "level": "1", "to": "official_in_charge"},
    )
    # The first attempt records its message and its queued delivery, then stops before it
    # starts the delivery (no client: as if the worker died right after the commit).
    crashed = ProcedureActivities(engine, Renderer(), PUBLIC_URL, None, config)
    assert await crashed.record_case_notifications(message) == CaseNotifyResult(1, 0)
    with Session(engine) as session:
        (key,) = session.scalars(
            select(Delivery.notification_key)
            .where(Delivery.state == "queued")
            .where(Delivery.notification_key.like(f"notify:{case_id}:%"))
        )
    async with running_worker(env.client, engine, task_queue, executor, delivery=config):
        retried = ProcedureActivities(engine, Renderer(), PUBLIC_URL, env.client, config)
        assert await retried.record_case_notifications(message) == CaseNotifyResult(0, 1)
        await env.client.get_workflow_handle(delivery_workflow_id(key)).result()
        # A third call finds the delivery finished and starts nothing again.
        assert await retried.record_case_notifications(message) == CaseNotifyResult(0, 1)
    assert [m["To"] for m in smtp.messages] == ["can-bo-04@example.invalid"]
    with Session(engine) as session:
        assert (
            session.scalar(select(Delivery.state).where(Delivery.notification_key == key)) == "sent"
        )


def on_every_channel(
    tmp_path: Path, task_queue: str, smtp: SmtpSink, gateway: Gateway
) -> DeliveryConfig:
    """Email, eSMS and Zalo configured; Zalo with a template for the dossier reminder only."""
    return delivery_config(
        Settings(
            data_dir=tmp_path,
            quiet_hours="",
            link_keys="case-delivery-key",
            public_url=PUBLIC_URL,
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_starttls=False,
            esms_base_url=gateway.base_url,
            esms_api_key="esms-key",
            esms_secret_key="s",
            esms_brandname=BRANDNAME,
            zns_base_url=gateway.base_url,
            zns_oauth_url=gateway.base_url,
            zns_app_id="app",
            zns_secret_key="zns-secret",
            zns_refresh_token="refresh-1",
            zns_templates=ZNS_TEMPLATES,
        ),
        task_queue,
    )


def prefer(engine: Engine, email: str, channels: str) -> None:
    with Session(engine) as session, session.begin():
        session.execute(update(Person).where(Person.email == email).values(channels=channels))


def routed_feedback(engine: Engine, now: datetime) -> tuple[int, str]:
    """A feedback about street lighting routed to 24133, to be answered by DUE: its id and
    receipt code."""
    request = store_feedback(engine, "Đèn đường hẻm 12 Lê Duẩn tắt cả tuần", now)
    with Session(engine) as session, session.begin():
        session.execute(
            update(Feedback)
            .where(Feedback.id == request.feedback_id)
            .values(commune_code="24133", service_code="lighting", answer_due_at=DUE)
        )
        code = session.get_one(Feedback, request.feedback_id).receipt_code
    return request.feedback_id, code


async def deliver(
    env: WorkflowEnvironment, engine: Engine, config: DeliveryConfig, message: CaseNotifyInput
) -> str:
    """Record the leader's message as the case's workflow does, and wait for its delivery."""
    recorder = ProcedureActivities(engine, Renderer(), PUBLIC_URL, env.client, config)
    assert await recorder.record_case_notifications(message) == CaseNotifyResult(1, 0)
    with Session(engine) as session:
        (key,) = session.scalars(
            select(Notification.idempotency_key).where(
                Notification.case_id == message.case_id, Notification.person_id.is_not(None)
            )
        )
    await env.client.get_workflow_handle(delivery_workflow_id(key)).result()
    return key


def outcome(engine: Engine, key: str) -> tuple[tuple[str, str | None], list[tuple[str, str, str]]]:
    """The message's state and channel, and its outbox rows (channel, status, last error)."""
    with Session(engine) as session:
        delivery = session.scalars(select(Delivery).where(Delivery.notification_key == key)).one()
        rows = session.execute(
            select(OutboxEntry.channel, OutboxEntry.status, OutboxEntry.last_error)
            .where(OutboxEntry.notification_key == key)
            .order_by(OutboxEntry.channel)
        )
        return (delivery.state, delivery.channel), [(c, s, e or "") for c, s, e in rows]


async def test_a_zalo_first_leader_gets_a_dossier_reminder_by_zns_with_its_registered_parameters(
    time_env: WorkflowEnvironment,
    roster_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    smtp: SmtpSink,
    gateway: Gateway,
    tmp_path: Path,
) -> None:
    env, engine = time_env, roster_engine
    prefer(engine, LEADER, "zalo,sms,email")
    request = store_dossier(engine, FIVE_WORKING_DAYS, "24133", await env.get_current_time())
    with Session(engine) as session, session.begin():
        session.execute(update(Dossier).where(Dossier.id == request.dossier_id).values(due_at=DUE))
        code = session.get_one(Dossier, request.dossier_id).receipt_code
    case_id = dossier_workflow_id(request.dossier_id)
    config = on_every_channel(tmp_path, task_queue, smtp, gateway)
    reminder = CaseNotifyInput(
        case_id=case_id,
        commune_code="24133",
        kind=CaseNotificationKind.DOSSIER_REMINDER,
        step="reminder-86400s-d1",
        to=Role.COMMUNE_LEADER.value,
        context={"due_at": DUE.isoformat(), "offset_seconds": "86400"},
    )
    async with running_worker(env.client, engine, task_queue, executor, delivery=config):
        key = await deliver(env, engine, config, reminder)

    ((_, sent),) = gateway.sent("/message/template")
    assert (sent["phone"], sent["template_id"]) == ("84900024133", "4001")
    # Exactly the six registered parameters, the leader's name shortened to its 30.
    assert sent["template_data"] == {
        "ten_can_bo": "Lãnh đạo Phường Buôn Ma Thuột…",
        "ma_ho_so": code,
        "tieu_de": "Tách hộ",
        "don_vi": "Phường Buôn Ma Thuột",
        "han_xu_ly": "12/03/2027",
        "lien_ket": f"{PUBLIC_URL}/api/v1/dossiers/{request.dossier_id}",
    }
    assert gateway.sent("SendMultipleMessage_V4_post_json/") == []
    assert smtp.messages == []
    assert outcome(engine, key) == (("sent", "zalo"), [("zalo", "sent", "")])


async def test_an_sms_first_leader_gets_a_routed_feedback_by_sms_in_its_own_words(
    time_env: WorkflowEnvironment,
    roster_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    smtp: SmtpSink,
    gateway: Gateway,
    tmp_path: Path,
) -> None:
    env, engine = time_env, roster_engine
    prefer(engine, LEADER, "sms,email")
    feedback_id, code = routed_feedback(engine, await env.get_current_time())
    case_id = feedback_workflow_id(feedback_id)
    config = on_every_channel(tmp_path, task_queue, smtp, gateway)
    routed = CaseNotifyInput(
        case_id=case_id,
        commune_code="24133",
        kind=CaseNotificationKind.FEEDBACK_ROUTED,
        step="routed",
        to=Role.COMMUNE_LEADER.value,
    )
    async with running_worker(env.client, engine, task_queue, executor, delivery=config):
        key = await deliver(env, engine, config, routed)

    text = (
        f"Phan anh moi {code} gui Phuong Buon Ma Thuot, han tra loi 17:00 12/03. "
        f"Chi tiet: {PUBLIC_URL}/api/v1/feedback/{feedback_id}"
    )
    ((_, sms),) = gateway.sent("SendMultipleMessage_V4_post_json/")
    assert (sms["Phone"], sms["Content"]) == ("0900024133", text)
    assert len(text) <= 160 and text.isascii()
    assert gateway.sent("/message/template") == []
    assert smtp.messages == []
    assert outcome(engine, key) == (("sent", "sms"), [("sms", "sent", "")])
    # The message recorded for the leader is the text that went out.
    with Session(engine) as session:
        recorded = session.scalars(select(Notification).where(Notification.idempotency_key == key))
        assert [(n.channel, n.body) for n in recorded] == [("sms", text)]


async def test_a_kind_without_a_zns_template_goes_on_the_leaders_next_channel(
    time_env: WorkflowEnvironment,
    roster_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    smtp: SmtpSink,
    gateway: Gateway,
    tmp_path: Path,
) -> None:
    env, engine = time_env, roster_engine
    prefer(engine, LEADER, "zalo,sms,email")
    feedback_id, code = routed_feedback(engine, await env.get_current_time())
    config = on_every_channel(tmp_path, task_queue, smtp, gateway)
    reminder = CaseNotifyInput(
        case_id=feedback_workflow_id(feedback_id),
        commune_code="24133",
        kind=CaseNotificationKind.FEEDBACK_REMINDER,
        step="reminder-86400s-d1",
        to=Role.COMMUNE_LEADER.value,
        context={"offset_seconds": "86400"},
    )
    async with running_worker(env.client, engine, task_queue, executor, delivery=config):
        key = await deliver(env, engine, config, reminder)

    # Zalo is the leader's first channel but has no template for a feedback reminder: nothing
    # reaches Zalo, the reason stays on its outbox row, and SMS carries the message.
    assert gateway.sent("/message/template") == []
    ((_, sms),) = gateway.sent("SendMultipleMessage_V4_post_json/")
    assert sms["Content"] == (
        f"Nhac han: Phan anh {code} gui Phuong Buon Ma Thuot phai tra loi truoc 17:00 12/03. "
        f"Tra loi: {PUBLIC_URL}/api/v1/feedback/{feedback_id}"
    )
    assert smtp.messages == []
    assert outcome(engine, key) == (
        ("sent", "sms"),
        [("sms", "sent", ""), ("zalo", "failed", "no ZNS template for feedback_reminder")],
    )
    # As for a directive's kind without a template: no notice to the office.
    with Session(engine) as session:
        notices = select(Notification.id).where(Notification.kind.in_(OFFICE_NOTICES))
        assert session.scalars(notices).all() == []
