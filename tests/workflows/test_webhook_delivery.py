"""The roster's `webhook` channel on the durable delivery path: the product's worker on the
time-skipping server posts a person's message, signed, to their endpoint through the outbox
(a 503 retried with the same webhook-id), and a person without an endpoint falls to their
next channel with the reason kept. The receiver is on loopback, reached only because
AXIS_WEBHOOK_ALLOW_HOSTS lists it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from activities.channels.webhook import WebhookEndpoint, sign
from activities.delivery import delivery_config
from config import Settings
from db.engine import make_engine
from db.models import Notification, OutboxEntry, Person
from tests.conftest import running_worker
from tests.gateways import Gateway, SmtpSink, http_gateway, smtp_server
from tests.workflows.test_delivery import communes, delivered, deliveries, extra_leader, record

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SYSTEM = "he-thong@xa.example.invalid"
NO_ENDPOINT = "chua-dang-ky@xa.example.invalid"


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


def settings(tmp_path: Path, smtp: SmtpSink | None = None, allow_hosts: str = "") -> Settings:
    options: dict[str, object] = {
        "data_dir": tmp_path,
        "quiet_hours": "",
        "link_keys": "delivery-test-key",
        "webhook_allow_hosts": allow_hosts,
    }
    if smtp is not None:
        options.update(smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False)
    return Settings(**options)  # type: ignore[arg-type]


def test_webhook_is_one_of_the_configured_channels(tmp_path: Path) -> None:
    config = delivery_config(settings(tmp_path, SmtpSink(port=25)))
    assert config.usable_channels("webhook,email") == ["webhook", "email"]
    assert config.usable_channels("zalo,webhook") == ["webhook"]


def test_a_malformed_allow_list_stops_the_process_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as error:
        delivery_config(settings(tmp_path, allow_hosts="127.0.0.1, 10.0.0.1/8"))
    assert str(error.value) == (
        "AXIS_WEBHOOK_ALLOW_HOSTS: '10.0.0.1/8' is neither a host name nor a network "
        "such as 10.20.0.0/16 (host bits must be zero)"
    )


async def test_a_person_whose_channel_is_webhook_gets_their_message_by_signed_webhook(
    time_env: WorkflowEnvironment,
    engine: Engine,
    smtp: SmtpSink,
    gateway: Gateway,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    with_endpoint, without = communes(engine, 0, 2)
    config = delivery_config(
        settings(tmp_path, smtp, allow_hosts="127.0.0.1"),
        task_queue,
        webhook_endpoints={SYSTEM: WebhookEndpoint(f"{gateway.base_url}/hook", SECRET)},
    )
    gateway.scripted.append((503, {}, {"error": "restarting"}))
    with (
        extra_leader(engine, with_endpoint, SYSTEM, "webhook,email", "0912000011"),
        extra_leader(engine, without, NO_ENDPOINT, "webhook,email", "0912000012"),
    ):
        async with running_worker(time_env.client, engine, task_queue, executor, delivery=config):
            keys = await record(time_env, engine, config, [with_endpoint, without])
            await delivered(time_env, keys)
        with Session(engine) as session:
            key_of = dict(
                session.execute(
                    select(Person.email, Notification.idempotency_key)
                    .join(Notification, Notification.person_id == Person.id)
                    .where(Notification.idempotency_key.in_(keys))
                ).all()
            )
            outbox = {
                (o.notification_key, o.channel): (o.status, o.attempts, o.last_error)
                for o in session.scalars(
                    select(OutboxEntry).where(OutboxEntry.notification_key.in_(keys))
                )
            }

    states = deliveries(engine, keys)
    by_person = {email: states[key] for email, key in key_of.items()}
    assert len(by_person) == 4
    # The 503 was retried on the webhook; the person without an endpoint fell to email.
    assert (by_person[SYSTEM].state, by_person[SYSTEM].channel, by_person[SYSTEM].attempts) == (
        "sent",
        "webhook",
        2,
    )
    fallen = by_person[NO_ENDPOINT]
    assert (fallen.state, fallen.channel, fallen.attempts) == ("sent", "email", 2)
    # The two demo leaders (zalo, sms, email; only email set up here) by email.
    assert Counter((d.state, d.channel) for d in states.values()) == {
        ("sent", "webhook"): 1,
        ("sent", "email"): 3,
    }
    assert outbox[(key_of[SYSTEM], "webhook")][:2] == ("sent", 2)
    assert outbox[(key_of[NO_ENDPOINT], "webhook")] == (
        "failed",
        1,
        f"no webhook endpoint for {NO_ENDPOINT}",
    )
    assert (key_of[SYSTEM], "email") not in outbox
    assert smtp.to(SYSTEM) == []
    assert len(smtp.to(NO_ENDPOINT)) == 1

    posts = gateway.sent("/hook")
    assert len(posts) == 2
    webhook_ids = {headers["webhook-id"] for headers, _ in posts}
    assert len(webhook_ids) == 1
    for headers, body in posts:
        timestamp = int(headers["webhook-timestamp"])
        assert headers["webhook-signature"] == sign(SECRET, headers["webhook-id"], timestamp, body)
    event = json.loads(posts[-1][1])
    assert (event["type"], event["data"]["kind"], event["data"]["recipient"]) == (
        "notification.issued",
        "issued",
        SYSTEM,
    )
    assert event["data"]["subject"] != ""
    assert "/a/" in event["data"]["body"]
