"""The channel adapters and the send activity against real servers on loopback: an SMTP
server (aiosmtpd) and an HTTP server answering as ZNS and eSMS do. Called twice, sent once."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.channels.base import Outcome, OutgoingMessage
from activities.channels.email import EmailChannel, SmtpSettings
from activities.channels.esms import EsmsChannel, EsmsSettings
from activities.channels.zns import ZnsChannel, ZnsSettings
from activities.delivery import DeliveryActivities, delivery_config
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from config import Settings
from db.engine import make_engine
from db.models import Delivery, Notification, OutboxEntry
from tests.conftest import PUBLIC_URL
from tests.factories import store_directive
from tests.gateways import BRANDNAME, Gateway, SmtpSink, http_gateway, smtp_server
from vocabulary.delivery import SendStatus
from vocabulary.directives import DirectivePolicy, NotificationKind
from workflows.delivery_types import SendInput
from workflows.types import NotifyInput

LONG_SUBJECT = (
    "[Chỉ đạo] Báo cáo chuyển đổi số quý IV của các xã, phường trên địa bàn tỉnh Đắk Lắk"
    " — hạn 17:00 ngày 27/02/2026"
)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_server() as sink:
        yield sink


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        yield server


def message(key: str = "axis-key-1", **fields: str) -> OutgoingMessage:
    values = {
        "idempotency_key": key,
        "kind": "issued",
        "subject": LONG_SUBJECT,
        # The shape of a registered customer-care SMS (issued.sms.j2).
        "body": "Viec moi: Bao cao chuyen doi so. Xac nhan: https://axis.example.invalid/a/t",
        "email": "lanh-dao@example.invalid",
        "phone": "0912345678",
        # What the registered template 1001 takes (tests/gateways.py).
        "template_data": {
            "ten_can_bo": "Nguyễn Văn A",
            "don_vi": "Phường Tân Lập",
            "tieu_de": "Báo cáo chuyển đổi số",
            "han_xu_ly": "27/02/2026",
            "lien_ket": "https://axis.example.invalid/a/t",
        },
        **fields,
    }
    return OutgoingMessage(**values)  # type: ignore[arg-type]


async def test_email_keeps_its_subject_and_refuses_header_injection(smtp: SmtpSink) -> None:
    channel = EmailChannel(SmtpSettings(host=smtp.host, port=smtp.port, starttls=False))
    sent = await channel.send(message())
    injected = await channel.send(
        message("axis-key-2", subject="Tiêu đề\r\nBcc: attacker@example.invalid")
    )
    assert (sent.outcome, injected.outcome) == (Outcome.ACCEPTED, Outcome.ACCEPTED)
    first, second = smtp.messages
    assert first["Subject"] == LONG_SUBJECT
    assert first["Message-ID"] == sent.provider_message_id
    assert second["Subject"] == "Tiêu đề Bcc: attacker@example.invalid"
    assert second["Bcc"] is None
    assert list(smtp.attempts) == ["lanh-dao@example.invalid"]
    # The Message-ID is the key's: the same message always carries the same one.
    assert first["Message-ID"] == channel.build(message())["Message-ID"]
    assert first["Message-ID"] != second["Message-ID"]


async def test_smtp_4xx_is_temporary_5xx_permanent_and_no_server_temporary(
    smtp: SmtpSink,
) -> None:
    channel = EmailChannel(SmtpSettings(host=smtp.host, port=smtp.port, starttls=False))
    smtp.fail_first["lanh-dao@example.invalid"] = deque(["451 4.3.0 later", "550 5.1.1 unknown"])
    assert (await channel.send(message())).outcome == Outcome.RETRY
    assert (await channel.send(message())).outcome == Outcome.PERMANENT
    closed = EmailChannel(SmtpSettings(host="127.0.0.1", port=1, starttls=False))
    assert (await closed.send(message())).outcome == Outcome.RETRY
    assert smtp.messages == []


async def test_zns_refreshes_a_refused_token_once_and_keeps_the_single_use_refresh_token(
    gateway: Gateway, tmp_path: Path
) -> None:
    settings = ZnsSettings(
        base_url=gateway.base_url,
        oauth_url=gateway.base_url,
        app_id="app",
        secret_key="zns-secret",
        refresh_token="refresh-1",
        templates={"issued": "1001"},
        state_file=tmp_path / "zns.json",
    )
    channel = ZnsChannel(settings)
    results = [await channel.send(message(f"k{n}")) for n in range(3)]
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert gateway.refreshes == 1
    # A second process starting later uses the refresh token the first one received.
    gateway.access_token = "expired-by-zalo"
    later = ZnsChannel(settings)
    assert (await later.send(message("k9"))).outcome == Outcome.ACCEPTED
    assert (gateway.refreshes, gateway.refused_refreshes) == (2, 0)
    sent = gateway.sent("/message/template")
    assert {body["phone"] for _, body in sent} == {"84912345678"}
    assert {body["tracking_id"] for _, body in sent} == {"k0", "k1", "k2", "k9"}


async def test_zns_codes_in_an_http_200_decide_the_outcome(gateway: Gateway) -> None:
    channel = ZnsChannel(
        ZnsSettings(
            base_url=gateway.base_url,
            oauth_url=gateway.base_url,
            app_id="app",
            secret_key="zns-secret",
            refresh_token="refresh-1",
            templates={"issued": "1001"},
        )
    )
    for code, outcome in [(-108, Outcome.PERMANENT), (-133, Outcome.RETRY), (-100, Outcome.RETRY)]:
        gateway.scripted.append((200, {}, {"error": code, "message": "refused"}))
        assert (await channel.send(message())).outcome == outcome
    assert (await channel.send(message(kind="digest"))).outcome == Outcome.PERMANENT


async def test_esms_answers_a_repeated_request_id_with_124_which_counts_as_sent(
    gateway: Gateway,
) -> None:
    channel = EsmsChannel(
        EsmsSettings(
            base_url=gateway.base_url, api_key="esms-key", secret_key="s", brandname=BRANDNAME
        )
    )
    first = await channel.send(message())
    again = await channel.send(message())
    assert (first.outcome, first.provider_message_id) == (Outcome.ACCEPTED, "sms-1")
    assert again.outcome == Outcome.ACCEPTED
    assert len(gateway.seen_request_ids) == 1
    bad_key = EsmsChannel(
        EsmsSettings(base_url=gateway.base_url, api_key="x", secret_key="s", brandname=BRANDNAME)
    )
    assert (await bad_key.send(message("other"))).outcome == Outcome.PERMANENT


async def test_the_esms_callback_url_carries_the_installations_secret(
    gateway: Gateway, tmp_path: Path
) -> None:
    common = {
        "data_dir": tmp_path,
        "link_keys": "k-new,k-old",
        "public_url": "https://axis.example.invalid/",
        "esms_base_url": gateway.base_url,
        "esms_api_key": "esms-key",
        "esms_secret_key": "s",
        "esms_brandname": BRANDNAME,
    }
    derived = delivery_config(Settings(**common), "unused-queue")  # type: ignore[arg-type]
    configured = delivery_config(
        Settings(**common, esms_callback_secret="c" * 40),  # type: ignore[arg-type]
        "unused-queue",
    )
    await derived.channels["sms"].send(message("key-derived"))
    await configured.channels["sms"].send(message("key-configured"))
    sent = [body["CallbackUrl"] for _, body in gateway.sent("SendMultipleMessage_V4_post_json/")]
    # HMAC-SHA256 of "esms-callback" under the newest link key, k-new.
    assert sent == [
        "https://axis.example.invalid/api/v1/callbacks/esms/"
        "1788cc9e6e3e5234a9009c6a095ec17d56a1e71a7095f7d3f43f726afcf10dff",
        "https://axis.example.invalid/api/v1/callbacks/esms/" + "c" * 40,
    ]


async def test_the_send_activity_called_twice_sends_once_and_never_resends_a_lost_attempt(
    engine: Engine, smtp: SmtpSink, gateway: Gateway, tmp_path: Path
) -> None:
    config = delivery_config(
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
        ),
        "unused-queue",
    )
    now = datetime.now(UTC)
    request = store_directive(
        engine, ["24133", "24121"], now, DirectivePolicy(), deadline=now + timedelta(days=3)
    )
    RecordActivities(engine).plan_directive(request)
    # Recorded without a client: no delivery workflow, the activity is driven by hand.
    await NotificationActivities(engine, Renderer(), PUBLIC_URL, None, config).record_notifications(
        NotifyInput(
            directive_id=request.directive_id,
            communes=["24133", "24121"],
            kind=NotificationKind.ISSUED,
            step="rev-1",
        )
    )
    with Session(engine) as session:
        rows = list(
            session.scalars(
                select(Notification)
                .where(Notification.directive_id == request.directive_id)
                .order_by(Notification.commune_code)
            )
        )
    assert [d.state for d in _deliveries(engine, [n.idempotency_key for n in rows])] == [
        "queued",
        "queued",
    ]
    first, second = rows
    sender = DeliveryActivities(engine, None, config)

    def send(n: Notification, channel: str) -> SendInput:
        assert n.person_id is not None
        return SendInput(
            notification_key=n.idempotency_key,
            channel=channel,
            person_id=n.person_id,
            kind=n.kind,
            state_keys=[n.idempotency_key],
            state_seq=1,
            attempts=1,
        )

    once = await sender.send_message(send(first, "email"))
    twice = await sender.send_message(send(first, "email"))
    assert (once.status, twice.status) == (SendStatus.ACCEPTED, SendStatus.ACCEPTED)
    assert len(smtp.messages) == 1
    assert f"{PUBLIC_URL}/a/" in str(smtp.messages[0].get_content())  # type: ignore[attr-defined]

    # An attempt whose outcome was lost (the worker died mid-send): email does not send it
    # again; eSMS, which deduplicates on RequestId, may.
    with Session(engine) as session, session.begin():
        for channel in ("email", "sms"):
            session.add(
                OutboxEntry(
                    notification_key=second.idempotency_key,
                    channel=channel,
                    person_id=second.person_id,
                    status="sending",
                    attempts=1,
                    idempotency_key=f"lost-{channel}",
                )
            )
    gateway.seen_request_ids["lost-sms"] = "sms-earlier"
    lost_email = await sender.send_message(send(second, "email"))
    lost_sms = await sender.send_message(send(second, "sms"))
    assert (lost_email.status, lost_sms.status) == (SendStatus.AMBIGUOUS, SendStatus.ACCEPTED)
    assert len(smtp.messages) == 1
    assert len(gateway.seen_request_ids) == 1
    sms_text = gateway.sent("SendMultipleMessage_V4_post_json/")[0][1]["Content"]
    assert len(sms_text) <= 160 and sms_text.isascii()
    assert [d.state for d in _deliveries(engine, [first.idempotency_key])] == ["sent"]


def _deliveries(engine: Engine, keys: list[str]) -> list[Delivery]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Delivery)
                .where(Delivery.notification_key.in_(keys))
                .order_by(Delivery.notification_key)
            )
        )


async def test_two_workers_sharing_the_database_refresh_the_zns_token_once(
    scratch_database_url: str, gateway: Gateway
) -> None:
    engine = make_engine(scratch_database_url)
    settings = ZnsSettings(
        base_url=gateway.base_url,
        oauth_url=gateway.base_url,
        app_id="app",
        secret_key="zns-secret",
        refresh_token="refresh-1",
        templates={"issued": "1001"},
    )
    try:
        # Two processes' channels, neither with a token yet, sending at the same moment.
        first, second = ZnsChannel(settings, engine=engine), ZnsChannel(settings, engine=engine)
        results = await asyncio.gather(
            *(c.send(message(f"k{n}-{i}")) for n in range(3) for i, c in enumerate((first, second)))
        )
        assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 6
        assert (gateway.refreshes, gateway.refused_refreshes) == (1, 0)
        # Zalo retires the token: one refresh again, with the refresh token the first gave.
        gateway.access_token = "expired-by-zalo"
        again = await asyncio.gather(first.send(message("x1")), second.send(message("x2")))
        assert [r.outcome for r in again] == [Outcome.ACCEPTED] * 2
        assert (gateway.refreshes, gateway.refused_refreshes) == (2, 0)
    finally:
        engine.dispose()
