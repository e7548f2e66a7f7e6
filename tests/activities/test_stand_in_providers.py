"""The stand-in providers (tests/gateways.py) refuse what the real ones refuse, with the codes
of their documentation, so a test that passes against them sends what ZNS, Zalo's OAuth and
eSMS accept. Sources: https://zalo.cloud/zns/guidelines/handle-error-code,
https://developers.esms.vn/en/esms-api/table-of-error-codes, ../shared/CHANNELS.md."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.gateways import BRANDNAME, Gateway, ZnsParam, http_gateway

SEND = "/message/template"
OAUTH = "/v4/oa/access_token"
ESMS = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
GOOD_DATA = {
    "ten_can_bo": "Nguyễn Văn A",
    "don_vi": "Phường Tân Lập",
    "tieu_de": "Báo cáo chuyển đổi số",
    "han_xu_ly": "27/02/2026",
    "lien_ket": "https://axis.example.invalid/a/t",
}
GOOD_SMS = "Viec moi: Bao cao chuyen doi so, han 17:00 27/02. Xac nhan: https://a.invalid/a/t"


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        yield server


async def post_zns(gateway: Gateway, token: str = "access-1", **changes: Any) -> int:
    body = {
        "phone": "84912345678",
        "template_id": "1001",
        "template_data": dict(GOOD_DATA),
        "tracking_id": "t-1",
        **changes,
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            gateway.base_url + SEND, json=body, headers={"access_token": token}
        )
    return int(answer.json()["error"])


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({}, 0),
        ({"phone": "0912345678"}, -108),
        ({"phone": "84912"}, -108),
        ({"template_id": "9999"}, -109),
        ({"template_data": {}}, -111),
        ({"template_data": {**GOOD_DATA, "ghi_chu": "thêm"}}, -112),
        ({"template_data": {**GOOD_DATA, "tieu_de": "x" * 101}}, -1121),
        ({"template_data": {k: v for k, v in GOOD_DATA.items() if k != "don_vi"}}, -1122),
        ({"template_data": {**GOOD_DATA, "ten_can_bo": " "}}, -1122),
        ({"template_data": {**GOOD_DATA, "han_xu_ly": "27-02-2026"}}, -1124),
    ],
)
async def test_zns_checks_the_phone_and_the_registered_templates_parameters(
    gateway: Gateway, changes: dict[str, Any], code: int
) -> None:
    assert await post_zns(gateway, **changes) == code


async def test_zns_checks_number_parameters_and_the_access_token(gateway: Gateway) -> None:
    gateway.zns_templates["2002"] = {"so_viec": ZnsParam("number", 3)}
    counted = await post_zns(gateway, template_id="2002", template_data={"so_viec": "12"})
    wordy = await post_zns(gateway, template_id="2002", template_data={"so_viec": "ba"})
    expired = await post_zns(gateway, token="access-from-yesterday")
    assert (counted, wordy, expired) == (0, -1124, -124)


async def refresh(gateway: Gateway, secret: str = "zns-secret", **changes: str) -> dict[str, Any]:
    form = {"refresh_token": "refresh-1", "app_id": "app", "grant_type": "refresh_token", **changes}
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            gateway.base_url + OAUTH, data=form, headers={"secret_key": secret}
        )
    result: dict[str, Any] = answer.json()
    return result


async def test_zalo_oauth_checks_the_app_the_grant_the_secret_and_the_single_use_token(
    gateway: Gateway,
) -> None:
    refused = [
        await refresh(gateway, app_id="another-app"),
        await refresh(gateway, grant_type="authorization_code"),
        await refresh(gateway, secret="not-the-secret"),
        await refresh(gateway, refresh_token="refresh-0"),
    ]
    first = await refresh(gateway)
    used_again = await refresh(gateway)
    assert [r["error"] for r in refused] == [-14002, -14001, -14004, -14014]
    assert all("access_token" not in r for r in refused)
    assert (first["access_token"], first["refresh_token"]) == ("access-2", "refresh-2")
    assert (used_again["error"], gateway.refreshes, gateway.refused_refreshes) == (-14014, 1, 5)


async def post_esms(gateway: Gateway, **changes: str) -> str:
    body = {
        "ApiKey": "esms-key",
        "SecretKey": "s",
        "Phone": "0912345678",
        "Content": GOOD_SMS,
        "Brandname": BRANDNAME,
        "SmsType": "2",
        "IsUnicode": "0",
        "Sandbox": "0",
        "RequestId": "r-1",
        **changes,
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(gateway.base_url + ESMS, json=body)
    return str(answer.json()["CodeResult"])


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({}, "100"),
        ({"ApiKey": "another-key"}, "101"),
        ({"SecretKey": "another-secret"}, "101"),
        ({"Brandname": "UNREGISTERED"}, "104"),
        ({"Brandname": ""}, "104"),
        ({"SmsType": "1"}, "118"),
        ({"Phone": "84912345678"}, "108"),
        ({"Phone": "091234"}, "108"),
        ({"Content": "Kinh gui dong chi, noi dung tu do."}, "146"),
    ],
)
async def test_esms_checks_keys_brandname_type_phone_and_the_registered_text(
    gateway: Gateway, changes: dict[str, str], code: str
) -> None:
    assert await post_esms(gateway, **changes) == code


async def test_esms_answers_a_repeated_request_id_124(gateway: Gateway) -> None:
    assert [await post_esms(gateway) for _ in range(2)] == ["100", "124"]
