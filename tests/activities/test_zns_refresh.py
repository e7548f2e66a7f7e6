"""A ZNS token refresh that fails is the channel failing before anything is sent: the message
goes on its next channel at once, never counted as "timeout after sending", and the steering
office is told once; a refresh token Zalo refused is not offered again. A new refresh token in
the configuration (the office re-authorised the app) replaces the broken chain. Against the
stand-in Zalo OAuth and ZNS servers (tests/gateways.py), with the tokens in the database
(SQLite and PostgreSQL) and in a state file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.channels import zns
from activities.channels.base import Outcome, OutgoingMessage
from activities.channels.zns import ZnsChannel, ZnsSettings
from activities.delivery import DeliveryActivities, DeliveryConfig, delivery_config
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from config import Settings
from db.engine import make_engine
from db.models import Notification, OutboxEntry, ProviderToken
from tests.conftest import PUBLIC_URL
from tests.factories import store_directive
from tests.gateways import BRANDNAME, Gateway, http_gateway
from vocabulary.delivery import SendStatus
from vocabulary.directives import DirectivePolicy, NotificationKind
from workflows.delivery_types import SendInput
from workflows.types import NotifyInput

SEND = "/message/template"
OAUTH = "/v4/oa/access_token"


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        # Each test its own chain: the database is shared by the module's tests.
        server.refresh_token = f"seed-{uuid.uuid4().hex[:8]}"
        yield server


def message(key: str = "axis-refresh-1") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        kind="issued",
        subject="Việc mới",
        body="Viec moi: Bao cao. Xac nhan: https://axis.example.invalid/a/t",
        phone="0912345678",
        template_data={
            "ten_can_bo": "Nguyễn Văn A",
            "don_vi": "Phường Tân Lập",
            "tieu_de": "Báo cáo",
            "han_xu_ly": "27/02/2026",
            "lien_ket": "https://axis.example.invalid/a/t",
        },
    )


def settings_for(gateway: Gateway, tmp_path: Path | None, **changes: str) -> ZnsSettings:
    return ZnsSettings(
        base_url=gateway.base_url,
        oauth_url=gateway.base_url,
        app_id=changes.get("app_id", "app"),
        secret_key=changes.get("secret_key", "zns-secret"),
        refresh_token=changes.get("refresh_token", gateway.refresh_token),
        templates={"issued": "1001"},
        state_file=tmp_path / "zns-token.json" if tmp_path is not None else None,
    )


def break_chain(gateway: Gateway, settings: ZnsSettings, how: str) -> ZnsSettings:
    """Make the next refresh fail as `how` says; returns the settings that go with it."""
    if how == "used elsewhere":
        gateway.refresh_token = "given-to-someone-else"
    elif how == "expired":
        gateway.oauth_scripted.append(
            (200, {"error": -14014, "message": "Refresh token is expired"})
        )
    elif how == "wrong secret":
        return replace(settings, secret_key="not-the-apps-secret")
    elif how == "wrong app":
        return replace(settings, app_id="another-app")
    elif how == "not JSON":
        gateway.oauth_scripted.append((502, "<html><body>Bad Gateway</body></html>"))
    elif how == "timeout":
        gateway.oauth_delay = 1.5
    return settings


# Zalo said no: the refresh token is not offered again by this process. After an answer that
# was not JSON the next message asks again (and gets its token); a refresh that times out is
# asked again, and times out again here.
NEXT_MESSAGE = {
    "used elsewhere": (Outcome.PERMANENT, 1),
    "expired": (Outcome.PERMANENT, 1),
    "wrong secret": (Outcome.PERMANENT, 1),
    "wrong app": (Outcome.PERMANENT, 1),
    "not JSON": (Outcome.ACCEPTED, 2),
    "timeout": (Outcome.PERMANENT, 2),
}


@pytest.mark.parametrize("how", list(NEXT_MESSAGE))
@pytest.mark.parametrize("store", ["database", "state file"])
async def test_a_failed_refresh_fails_the_channel_before_sending(
    gateway: Gateway,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    store: str,
) -> None:
    settings = break_chain(
        gateway, settings_for(gateway, tmp_path if store == "state file" else None), how
    )
    # The refresh's own timeout, shorter than the stand-in's delay in the "timeout" case.
    monkeypatch.setattr(zns, "TIMEOUT_SECONDS", 0.5)
    http = httpx.AsyncClient(timeout=0.5)
    channel = ZnsChannel(settings, http, engine if store == "database" else None)
    first = await channel.send(message("k1"))
    second = await channel.send(message("k2"))
    await http.aclose()
    assert first.outcome == Outcome.PERMANENT
    assert first.detail.startswith("Zalo unavailable: token refresh")
    assert "after sending" not in first.detail
    assert first.unavailable is not None
    seed = zns.fingerprint(settings.refresh_token)
    assert first.unavailable.cause_key == f"zalo:refresh:{seed}"
    assert (second.outcome, len(gateway.sent(OAUTH))) == NEXT_MESSAGE[how]
    assert len(gateway.sent(SEND)) == (1 if second.outcome == Outcome.ACCEPTED else 0)


async def test_only_a_send_that_may_have_reached_zalo_is_ambiguous(
    gateway: Gateway, tmp_path: Path
) -> None:
    http = httpx.AsyncClient(timeout=0.5)
    # The refresh answers at once; the send itself gets no answer in time.
    gateway.send_delay = 1.5
    slow = await ZnsChannel(settings_for(gateway, tmp_path), http).send(message("slow"))
    closed = ZnsChannel(replace(settings_for(gateway, None), base_url="http://127.0.0.1:1"), http)
    refused = await closed.send(message("closed"))
    await http.aclose()
    assert (slow.outcome, slow.detail) == (Outcome.AMBIGUOUS, "timeout after sending")
    assert refused.outcome == Outcome.RETRY
    assert [b["tracking_id"] for _, b in gateway.sent(SEND)] == ["slow"]


@pytest.mark.parametrize("store", ["database", "state file"])
async def test_a_new_configured_refresh_token_restarts_a_broken_chain(
    gateway: Gateway, engine: Engine, tmp_path: Path, store: str
) -> None:
    shared = engine if store == "database" else None
    folder = tmp_path if store == "state file" else None
    working = ZnsChannel(settings_for(gateway, folder), engine=shared)
    assert (await working.send(message("before"))).outcome == Outcome.ACCEPTED
    # The chain breaks: Zalo retires the tokens (the office re-authorised the app elsewhere,
    # or three months passed) and hands out a new refresh token.
    new_token = gateway.reauthorise()
    broken = await working.send(message("broken"))
    assert (broken.outcome, broken.unavailable is not None) == (Outcome.PERMANENT, True)
    # A restart with the same configuration keeps the broken chain: nothing sends.
    restarted = ZnsChannel(
        settings_for(gateway, folder, refresh_token=working_seed(working)), engine=shared
    )
    assert (await restarted.send(message("same"))).outcome == Outcome.PERMANENT
    # The new token in AXIS_ZNS_REFRESH_TOKEN: a new chain, and ZNS sends again.
    renewed = ZnsChannel(settings_for(gateway, folder, refresh_token=new_token), engine=shared)
    results = [await renewed.send(message(f"after-{n}")) for n in range(2)]
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
    assert [b["tracking_id"] for _, b in gateway.sent(SEND)][-2:] == ["after-0", "after-1"]
    # One refresh from the new token; the one after it is the chain's own.
    assert gateway.refresh_token != new_token
    if shared is not None:
        with Session(shared) as session:
            names = list(session.scalars(select(ProviderToken.name)))
        # The old chain is gone; the new one is named after its seed's fingerprint only.
        assert names == [f"zns:{zns.fingerprint(new_token)}"]
        assert new_token not in names[0]


def working_seed(channel: ZnsChannel) -> str:
    seed = channel.tokens._settings.refresh_token
    assert seed is not None
    return seed


async def test_a_chain_stored_before_chains_were_named_is_kept(
    gateway: Gateway, engine: Engine
) -> None:
    """The row of an earlier version holds the chain's current refresh token; the configured
    seed was consumed long ago."""
    seed = gateway.refresh_token
    gateway.refresh_token = "current-of-the-old-row"
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.add(
            ProviderToken(
                name="zns",
                access_token="",
                refresh_token="current-of-the-old-row",
                expires_at=now - timedelta(hours=1),
                updated_at=now,
            )
        )
    channel = ZnsChannel(settings_for(gateway, None, refresh_token=seed), engine=engine)
    assert (await channel.send(message("upgraded"))).outcome == Outcome.ACCEPTED
    with Session(engine) as session:
        assert list(session.scalars(select(ProviderToken.name))) == [f"zns:{zns.fingerprint(seed)}"]


def configured(tmp_path: Path, gateway: Gateway) -> DeliveryConfig:
    return delivery_config(
        Settings(
            data_dir=tmp_path,
            link_keys="k",
            esms_base_url=gateway.base_url,
            esms_api_key="esms-key",
            esms_secret_key="s",
            esms_brandname=BRANDNAME,
            zns_base_url=gateway.base_url,
            zns_oauth_url=gateway.base_url,
            zns_app_id="app",
            zns_secret_key="zns-secret",
            zns_refresh_token="refresh-long-consumed",
            zns_templates="issued=1001",
        ),
        "unused-queue",
    )


async def test_a_refused_refresh_sends_by_sms_and_tells_the_office_once(
    engine: Engine, gateway: Gateway, tmp_path: Path
) -> None:
    config = configured(tmp_path, gateway)
    now = datetime.now(UTC)
    request = store_directive(
        engine,
        ["24133", "24121"],
        now,
        DirectivePolicy(),
        deadline=now + timedelta(days=3),
        title=f"Làm mới bị từ chối {uuid.uuid4().hex[:6]}",
    )
    RecordActivities(engine).plan_directive(request)
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
                select(Notification).where(
                    Notification.directive_id == request.directive_id,
                    Notification.person_id.is_not(None),
                )
            )
        )
    assert len(rows) == 2

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
            at=now,
        )

    # Two worker processes, each with its own channels.
    first, second = (
        DeliveryActivities(engine, None, config),
        DeliveryActivities(engine, None, configured(tmp_path, gateway)),
    )
    on_zalo = [
        await w.send_message(send(n, "zalo")) for w, n in zip((first, second), rows, strict=True)
    ]
    again = await first.send_message(send(rows[0], "zalo"))
    on_sms = [await first.send_message(send(n, "sms")) for n in rows]
    assert [o.status for o in on_zalo] == [SendStatus.PERMANENT] * 2
    assert again.status == SendStatus.PERMANENT
    assert [o.status for o in on_sms] == [SendStatus.ACCEPTED] * 2
    assert gateway.sent(SEND) == []
    with Session(engine) as session:
        outbox = sorted(
            (o.channel, o.status)
            for o in session.scalars(
                select(OutboxEntry).where(
                    OutboxEntry.notification_key.in_([n.idempotency_key for n in rows])
                )
            )
        )
        notices = list(
            session.scalars(
                select(Notification).where(Notification.step.like("zalo-unavailable-%"))
            )
        )
    assert outbox == [("sms", "sent"), ("sms", "sent"), ("zalo", "failed"), ("zalo", "failed")]
    # The office (one person in the demo roster) is told once, by email, naming the cause.
    assert [(n.kind, n.recipient, n.channel) for n in notices] == [
        ("delivery_failed", "van-phong@example.invalid", "email")
    ]
    assert notices[0].subject.startswith(
        "[Kênh zalo ngừng gửi] Zalo unavailable: token refresh refused"
    )
    assert "AXIS_ZNS_REFRESH_TOKEN" in notices[0].body


async def test_a_refused_refresh_token_is_offered_again_once_its_hold_is_over(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(gateway, tmp_path)
    gateway.refresh_token = "given-to-someone-else"
    channel = ZnsChannel(settings)
    held = [await channel.send(message(f"held-{n}")) for n in range(2)]
    monkeypatch.setattr(zns, "REFUSED_HOLD_SECONDS", -1.0)
    asked_again = await channel.send(message("again"))
    assert [r.outcome for r in (*held, asked_again)] == [Outcome.PERMANENT] * 3
    assert gateway.refused_refreshes == 2


async def test_a_token_store_that_fails_before_the_send_is_retried_later(
    gateway: Gateway, tmp_path: Path
) -> None:
    unreachable = make_engine(f"sqlite:///{tmp_path}/no-such-folder/axis.db")
    try:
        result = await ZnsChannel(settings_for(gateway, None), engine=unreachable).send(message())
    finally:
        unreachable.dispose()
    assert result.outcome == Outcome.RETRY
    assert result.detail.startswith("ZNS token store: OperationalError")
    assert (gateway.sent(OAUTH), gateway.sent(SEND)) == ([], [])
