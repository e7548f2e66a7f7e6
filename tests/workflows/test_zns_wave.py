"""A refused ZNS token refresh in the middle of a real wave: a directive issued to the 102
communes, whose leaders (the demo roster) prefer Zalo, then SMS, then email. The product's
delivery workflows run on the time-skipping server against the stand-in Zalo OAuth, ZNS and
eSMS servers (tests/gateways.py); the OAuth server has given the configured refresh token to
another client, so it refuses it (error -14014 in Zalo's table), as it does after a token was
used twice or expired.

What must hold: every Zalo-first message goes by SMS at its first attempt, none waits for a
Zalo retry, nothing reaches ZNS, and the steering office is told once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from activities.delivery import DeliveryConfig, delivery_config
from config import Settings
from db.engine import make_engine
from db.models import Notification, OutboxEntry
from tests.conftest import running_worker
from tests.gateways import BRANDNAME, Gateway, SmtpSink, http_gateway, smtp_server
from tests.workflows.test_delivery import communes, delivered, deliveries, record

ZNS_SEND = "/message/template"
OAUTH = "/v4/oa/access_token"
ESMS_SEND = "SendMultipleMessage_V4_post_json/"
OFFICE = "van-phong@example.invalid"


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
        # Zalo gave the chain's next token to another client: ours is refused.
        server.refresh_token = "given-to-another-client"
        yield server


def configure(tmp_path: Path, task_queue: str, gateway: Gateway, smtp: SmtpSink) -> DeliveryConfig:
    return delivery_config(
        Settings(
            data_dir=tmp_path,
            quiet_hours="",
            link_keys="wave-test-key",
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
            zns_refresh_token="refresh-already-used",
            zns_templates="issued=1001",
        ),
        task_queue,
    )


async def test_a_refused_refresh_during_a_102_commune_wave_sends_every_message_by_sms_at_once(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    gateway: Gateway,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
    figure: Callable[[str], None],
) -> None:
    config = configure(tmp_path, task_queue, gateway, smtp)
    codes = communes(engine, 0, 102)
    assert len(codes) == 102
    started = time.monotonic()
    async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
        keys = await record(time_env, engine, config, codes, title="Đợt gửi khi Zalo từ chối")
        assert len(keys) == 102
        results = await delivered(time_env, keys)
    seconds = time.monotonic() - started

    states = deliveries(engine, keys)
    assert Counter((d.state, d.channel) for d in states.values()) == {("sent", "sms"): 102}
    # At once: one attempt on Zalo (refused before sending), one on SMS, for every message.
    assert Counter(d.attempts for d in states.values()) == {2: 102}
    assert Counter(r.state for r in results) == {"sent": 102}
    with Session(engine) as session:
        outbox = Counter(
            (o.channel, o.status, o.attempts)
            for o in session.scalars(
                select(OutboxEntry).where(OutboxEntry.notification_key.in_(keys))
            )
        )
        notices = list(
            session.scalars(
                select(Notification).where(
                    Notification.step.like("zalo-unavailable-%"),
                    Notification.created_at
                    >= min(
                        n.created_at
                        for n in session.scalars(
                            select(Notification).where(Notification.idempotency_key.in_(keys))
                        )
                    ),
                )
            )
        )
    assert outbox == {("zalo", "failed", 1): 102, ("sms", "sent", 1): 102}
    assert gateway.sent(ZNS_SEND) == []
    assert len(gateway.sent(ESMS_SEND)) == 102
    # Zalo refused the token once; the refused token is never offered again by this worker.
    refreshes = gateway.sent(OAUTH)
    assert len(refreshes) == 1
    # The office: told once, by email, naming the cause.
    assert [(n.recipient, n.kind) for n in notices] == [(OFFICE, "delivery_failed")]
    assert [m["Subject"] for m in smtp.to(OFFICE)] == [notices[0].subject]
    assert notices[0].subject.startswith("[Kênh zalo ngừng gửi] Zalo unavailable: token refresh")
    figure(
        f"refused ZNS refresh in a 102-commune wave: 102 messages, 102 fallbacks to SMS at the "
        f"first attempt, {len(refreshes)} refresh asked, 1 notice to the office, "
        f"{seconds:.1f} s wall-clock"
    )
