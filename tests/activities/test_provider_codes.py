"""Every answer code of ZNS and eSMS has its class, checked through the adapters against the
stand-in servers: permanent (the next channel), temporary (the same channel later) or a
configuration error (the next channel, and the steering office told, since the installation's
app, keys, sender or template must be fixed for anyone to get a message that way).

Sources, read 2026-12: Zalo's table of ZNS codes, https://zalo.cloud/zns/guidelines/handle-error-code
(with the codes ../shared/CHANNELS.md names); eSMS's table of codes,
https://developers.esms.vn/en/esms-api/table-of-error-codes (the codes a customer-care send
can answer), and its callback statuses, https://developers.esms.vn/en/esms-api/callback-url.
Two readings of ours: ZNS -110 is the person's Zalo app being too old ("the user must update
to the latest version"), theirs alone, so permanent; eSMS 177 is the brandname not registered
with the person's network, which leaves other networks working, so permanent too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from activities.channels.base import Outcome, OutgoingMessage
from activities.channels.esms import EsmsChannel, EsmsSettings
from activities.channels.zns import ZnsChannel, ZnsSettings
from activities.delivery import delivery_config
from config import Settings
from tests.gateways import BRANDNAME, Gateway, http_gateway

PERMANENT, TEMPORARY, CONFIGURATION, ACCEPTED = (
    "permanent",
    "temporary",
    "configuration",
    "accepted",
)
ZNS_EXPECTED = {
    0: ACCEPTED,
    -100: TEMPORARY,
    -101: CONFIGURATION,
    -102: CONFIGURATION,
    -103: CONFIGURATION,
    -104: CONFIGURATION,
    -105: CONFIGURATION,
    -106: CONFIGURATION,
    -107: CONFIGURATION,
    -108: PERMANENT,
    -109: CONFIGURATION,
    -110: PERMANENT,
    -111: CONFIGURATION,
    -112: CONFIGURATION,
    -1121: CONFIGURATION,
    -1122: CONFIGURATION,
    -1123: CONFIGURATION,
    -1124: CONFIGURATION,
    -113: CONFIGURATION,
    -114: PERMANENT,
    -115: CONFIGURATION,
    -116: CONFIGURATION,
    -117: CONFIGURATION,
    -118: PERMANENT,
    -119: PERMANENT,
    -124: TEMPORARY,
    -131: CONFIGURATION,
    -133: TEMPORARY,
    -139: PERMANENT,
    -141: PERMANENT,
    -144: PERMANENT,
    -1441: PERMANENT,
    -147: PERMANENT,
    -160: PERMANENT,
}
ESMS_EXPECTED = {
    "99": PERMANENT,
    "100": ACCEPTED,
    "101": CONFIGURATION,
    "102": CONFIGURATION,
    "103": CONFIGURATION,
    "104": CONFIGURATION,
    "108": PERMANENT,
    "118": CONFIGURATION,
    "124": ACCEPTED,
    "140": CONFIGURATION,
    "146": CONFIGURATION,
    "177": PERMANENT,
    "300": CONFIGURATION,
}
OUTCOME = {
    ACCEPTED: Outcome.ACCEPTED,
    PERMANENT: Outcome.PERMANENT,
    CONFIGURATION: Outcome.PERMANENT,
    TEMPORARY: Outcome.RETRY,
}


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        yield server


def message() -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key="axis-codes-1",
        kind="issued",
        subject="Việc mới",
        body="Viec moi: Bao cao. Xac nhan: https://axis.example.invalid/a/t",
        phone="0912345678",
    )


def zns(gateway: Gateway) -> ZnsChannel:
    return ZnsChannel(
        ZnsSettings(
            base_url=gateway.base_url,
            oauth_url=gateway.base_url,
            app_id="app",
            secret_key="zns-secret",
            refresh_token="refresh-1",
            templates={"issued": "1001"},
        )
    )


def esms(gateway: Gateway) -> EsmsChannel:
    return EsmsChannel(
        EsmsSettings(
            base_url=gateway.base_url, api_key="esms-key", secret_key="s", brandname=BRANDNAME
        )
    )


@pytest.mark.parametrize(("code", "kind"), sorted(ZNS_EXPECTED.items()))
async def test_each_zns_code_has_its_class(gateway: Gateway, code: int, kind: str) -> None:
    answer = {"error": code, "message": "as Zalo answers", "data": {"msg_id": "m-1"}}
    # -124 is answered again after the one refresh it calls for.
    gateway.scripted.extend([(200, {}, answer)] * (2 if code == -124 else 1))
    result = await zns(gateway).send(message())
    assert (result.outcome, result.unavailable is not None) == (
        OUTCOME[kind],
        kind == CONFIGURATION,
    )
    if kind == CONFIGURATION:
        assert result.unavailable is not None
        assert result.unavailable.cause_key == f"zalo:{code}:1001"
    assert len(gateway.sent("/message/template")) == (2 if code == -124 else 1)


@pytest.mark.parametrize(("code", "kind"), sorted(ESMS_EXPECTED.items()))
async def test_each_esms_code_has_its_class(gateway: Gateway, code: str, kind: str) -> None:
    gateway.scripted.append((200, {}, {"CodeResult": code, "SMSID": "sms-9"}))
    result = await esms(gateway).send(message())
    assert (result.outcome, result.unavailable is not None) == (
        OUTCOME[kind],
        kind == CONFIGURATION,
    )
    if kind == CONFIGURATION:
        assert result.unavailable is not None
        assert result.unavailable.cause_key == f"sms:{code}"


async def test_codes_no_table_lists_are_retried(gateway: Gateway) -> None:
    gateway.scripted.extend(
        [(200, {}, {"error": -999, "message": "new"}), (200, {}, {"CodeResult": "999"})]
    )
    zalo, sms = await zns(gateway).send(message()), await esms(gateway).send(message())
    assert (zalo.outcome, sms.outcome) == (Outcome.RETRY, Outcome.RETRY)


def test_the_tables_hold_exactly_the_documented_codes() -> None:
    from activities.channels.esms import ESMS_CODES
    from activities.channels.zns import ZNS_CODES

    assert {code: entry.kind.value for code, entry in ZNS_CODES.items()} == ZNS_EXPECTED
    assert {code: entry.kind.value for code, entry in ESMS_CODES.items()} == ESMS_EXPECTED


def test_esms_keys_without_a_brandname_are_refused_at_start(tmp_path: Path) -> None:
    keys = {"data_dir": tmp_path, "link_keys": "k", "esms_api_key": "k", "esms_secret_key": "s"}
    with pytest.raises(ValueError, match="AXIS_ESMS_BRANDNAME is empty"):
        delivery_config(Settings(**keys), "unused-queue")  # type: ignore[arg-type]
    # With one, or without the keys (SMS off), it starts.
    with_brandname = delivery_config(
        Settings(**keys, esms_brandname=BRANDNAME),  # type: ignore[arg-type]
        "unused-queue",
    )
    off = delivery_config(Settings(data_dir=tmp_path, link_keys="k"), "unused-queue")
    assert (with_brandname.channels["sms"].configured, off.channels["sms"].configured) == (
        True,
        False,
    )
