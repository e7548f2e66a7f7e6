"""A dossier's messages to people on the roster are delivered as a directive's are: a dossier
that runs late on the time-skipping server, a real SMTP server on loopback, each reminder and
escalation email received once and shown sent; the applicant's apology stays recorded only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.delivery import DeliveryConfig, delivery_config
from activities.procedures import ProcedureActivities
from activities.rendering import Renderer
from config import Settings
from db.models import Delivery, Notification, OutboxEntry
from tests.conftest import PUBLIC_URL, running_worker
from tests.gateways import SmtpSink, smtp_server
from tests.procedure_factories import store_dossier
from tests.scenario_dates import DAY, at, next_tet, server_now
from tests.workflows.helpers import advance_to
from vocabulary.cases import CaseNotificationKind, dossier_workflow_id
from vocabulary.delivery import delivery_workflow_id
from vocabulary.roles import Role
from workflows.dossier import DossierWorkflow
from workflows.procedure_types import CaseNotifyInput, CaseNotifyResult, DossierStepInput

# Tách hộ: 5 working days (DVC).
FIVE_WORKING_DAYS = "1.010038"
OFFICER = "commune_leader:một cửa"


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_server() as sink:
        yield sink


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
