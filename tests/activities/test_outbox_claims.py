"""A send claims its outbox row only once the message is read and rendered: a database outage
or a template error before the provider call leaves nothing claimed, so the activity's retry
sends the message, once. Runs on SQLite and PostgreSQL, against a real SMTP server and an HTTP
server answering as Zalo ZNS does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import UndefinedError
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from activities.delivery import DeliveryActivities, DeliveryConfig, delivery_config
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from activities.rendering import RenderedMessage, Renderer
from config import Settings
from db.models import Delivery, Notification, OutboxEntry
from tests.conftest import PUBLIC_URL
from tests.factories import store_directive
from tests.gateways import BRANDNAME, Gateway, SmtpSink, http_gateway, smtp_server
from vocabulary.delivery import SendStatus
from vocabulary.directives import DirectivePolicy, NotificationKind
from workflows.delivery_types import SendInput, SendOutcome
from workflows.types import NotifyInput


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_server() as sink:
        yield sink


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        yield server


@contextmanager
def database_down_once_reading(engine: Engine, table: str) -> Iterator[None]:
    """The database goes away the first time a statement reads `table`."""
    failed: list[str] = []

    def fail_once(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if f"FROM {table}" in statement and not failed:
            failed.append(statement)
            raise OperationalError(statement, None, ConnectionError("server closed the connection"))

    event.listen(engine, "before_cursor_execute", fail_once)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail_once)


class BrokenOnce(Renderer):
    """A renderer whose first text fails, as a template edited with a mistake would."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def render(self, *args: Any, **kwargs: Any) -> RenderedMessage:
        if not self.failed:
            self.failed = True
            raise UndefinedError("'deadline' is undefined")
        return super().render(*args, **kwargs)


async def one_message(
    engine: Engine, config: DeliveryConfig, commune: str, title: str, channel: str
) -> SendInput:
    """One issue message recorded as the workflows record it (no delivery started), and the
    send its delivery workflow asks for on `channel`."""
    now = datetime.now(UTC)
    request = store_directive(
        engine, [commune], now, DirectivePolicy(), deadline=now + timedelta(days=3), title=title
    )
    RecordActivities(engine).plan_directive(request)
    await NotificationActivities(engine, Renderer(), PUBLIC_URL, None, config).record_notifications(
        NotifyInput(
            directive_id=request.directive_id,
            communes=[commune],
            kind=NotificationKind.ISSUED,
            step="rev-1",
        )
    )
    with Session(engine) as session:
        notification = session.scalars(
            select(Notification).where(
                Notification.directive_id == request.directive_id,
                Notification.person_id.is_not(None),
            )
        ).one()
    assert notification.person_id is not None
    return SendInput(
        notification_key=notification.idempotency_key,
        channel=channel,
        person_id=notification.person_id,
        kind=notification.kind,
        state_keys=[notification.idempotency_key],
        state_seq=1,
        attempts=1,
    )


def outbox_and_state(engine: Engine, key: str) -> tuple[list[tuple[str, str, int]], str]:
    with Session(engine) as session:
        rows = [
            (o.channel, o.status, o.attempts)
            for o in session.scalars(select(OutboxEntry).where(OutboxEntry.notification_key == key))
        ]
        state = session.scalars(
            select(Delivery.state).where(Delivery.notification_key == key)
        ).one()
    return rows, state


def configured(tmp_path: Path, smtp: SmtpSink, gateway: Gateway) -> DeliveryConfig:
    return delivery_config(
        Settings(
            data_dir=tmp_path,
            link_keys="k",
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
            zns_templates="issued=1001",
        ),
        "unused-queue",
    )


async def test_a_database_outage_while_reading_the_message_claims_nothing_and_the_retry_sends_once(
    engine: Engine, smtp: SmtpSink, gateway: Gateway, tmp_path: Path
) -> None:
    config = configured(tmp_path, smtp, gateway)
    send = await one_message(engine, config, "24133", "Mất kết nối khi đọc", "email")
    sender = DeliveryActivities(engine, None, config)
    with database_down_once_reading(engine, "notifications"), pytest.raises(OperationalError):
        await sender.send_message(send)
    # Nothing was claimed before the outage.
    assert outbox_and_state(engine, send.notification_key) == ([], "queued")
    retried: SendOutcome = await sender.send_message(send)
    again: SendOutcome = await sender.send_message(send)
    assert (retried.status, again.status) == (SendStatus.ACCEPTED, SendStatus.ACCEPTED)
    assert len(smtp.messages) == 1
    assert outbox_and_state(engine, send.notification_key) == ([("email", "sent", 1)], "sent")


async def test_a_template_error_claims_nothing_and_the_retry_sends_the_zalo_message_once(
    engine: Engine, smtp: SmtpSink, gateway: Gateway, tmp_path: Path
) -> None:
    config = configured(tmp_path, smtp, gateway)
    send = await one_message(engine, config, "24121", "Mẫu tin nhắn lỗi", "zalo")
    config.renderer = BrokenOnce()
    sender = DeliveryActivities(engine, None, config)
    with pytest.raises(UndefinedError):
        await sender.send_message(send)
    assert outbox_and_state(engine, send.notification_key) == ([], "queued")
    retried = await sender.send_message(send)
    again = await sender.send_message(send)
    assert (retried.status, again.status) == (SendStatus.ACCEPTED, SendStatus.ACCEPTED)
    assert len(gateway.sent("/message/template")) == 1
    assert outbox_and_state(engine, send.notification_key) == ([("zalo", "sent", 1)], "sent")
