"""Each ZNS template gets exactly the parameters it was registered with (declared beside its id
in AXIS_ZNS_TEMPLATES), each shortened to its length on a word boundary; a message with no
value for one is not sent (Zalo refuses an empty parameter, -1122), and a template declaring a
parameter no message fills is refused at start. Against the stand-in ZNS, which checks
parameters against its registry as Zalo does (https://zalo.cloud/zns/guidelines/handle-error-code)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from activities.channels.base import Outcome, OutgoingMessage
from activities.channels.zns import (
    ZnsChannel,
    ZnsSettings,
    fill_template,
    parse_template_parameters,
    parse_templates,
    shorten,
)
from activities.delivery import DeliveryActivities, delivery_config
from config import Settings
from tests.activities.test_outbox_claims import one_message
from tests.gateways import BRANDNAME, Gateway, ZnsParam, http_gateway
from vocabulary.delivery import SendStatus

# As an office registers it with Zalo: short names and titles, a date, the link.
REGISTERED = {
    "ten_can_bo": ZnsParam("string", 30),
    "don_vi": ZnsParam("string", 30),
    "tieu_de": ZnsParam("string", 40),
    "han_xu_ly": ZnsParam("date", 10),
    "lien_ket": ZnsParam("string", 200),
}
DECLARED = (
    "issued=3001|ten_can_bo:string:30|don_vi:string:30|tieu_de:string:40|han_xu_ly:date:10"
    "|lien_ket:string:200,reminder=3002|ten_can_bo:string:30|tieu_de:string:40"
)
VALUES = {
    "ten_can_bo": "Nguyễn Thị Minh Khai",
    "don_vi": "Phường Buôn Ma Thuột",
    "tieu_de": "Báo cáo chuyển đổi số quý IV của các xã, phường trên địa bàn tỉnh",
    "han_xu_ly": "27/02/2026",
    "lien_ket": "https://axis.example.invalid/a/t",
}


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        server.zns_templates["3001"] = REGISTERED
        server.zns_templates["3002"] = {
            "ten_can_bo": ZnsParam("string", 30),
            "tieu_de": ZnsParam("string", 40),
        }
        yield server


def channel(gateway: Gateway) -> ZnsChannel:
    return ZnsChannel(
        ZnsSettings(
            base_url=gateway.base_url,
            oauth_url=gateway.base_url,
            app_id="app",
            secret_key="zns-secret",
            refresh_token="refresh-1",
            templates=parse_templates(DECLARED),
            parameters=parse_template_parameters(DECLARED),
        )
    )


def message(kind: str, **values: str) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=f"axis-{kind}",
        kind=kind,
        subject="",
        body="",
        phone="0912345678",
        template_data={**VALUES, **values},
    )


async def test_each_kind_sends_exactly_its_templates_parameters_within_their_lengths(
    gateway: Gateway,
) -> None:
    zalo = channel(gateway)
    results = [await zalo.send(message("issued")), await zalo.send(message("reminder"))]
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
    (_, issued), (_, reminder) = gateway.sent("/message/template")
    title = "Báo cáo chuyển đổi số quý IV của các…"
    assert issued["template_data"] == {**VALUES, "tieu_de": title}
    assert reminder["template_data"] == {"ten_can_bo": "Nguyễn Thị Minh Khai", "tieu_de": title}
    assert len(title) <= 40


async def test_a_message_without_a_value_for_a_declared_parameter_is_not_sent(
    gateway: Gateway,
) -> None:
    result = await channel(gateway).send(message("issued", lien_ket=""))
    assert (result.outcome, result.detail) == (
        Outcome.PERMANENT,
        "no value for ZNS parameter lien_ket of template 3001",
    )
    assert result.unavailable is not None
    assert gateway.sent("/message/template") == []


@pytest.mark.parametrize(
    ("declared", "refusal"),
    [
        ("issued=3001|ho_ten:string:30", "issued declares 'ho_ten', which no message fills"),
        ("issued=3001|tieu_de:text:30", "issued.tieu_de has type 'text'"),
        ("issued=3001|tieu_de:string:0", "issued.tieu_de has maximum length '0'"),
        ("issued=3001|tieu_de:string:many", "issued.tieu_de has maximum length 'many'"),
        # A receipt code is a case's; a count of items, a digest's.
        ("issued=3001|ma_ho_so:string:20", "issued declares 'ma_ho_so', which its messages do"),
        (
            "dossier_reminder=4001|so_viec:number:2",
            "dossier_reminder declares 'so_viec', which its messages do not fill",
        ),
    ],
)
def test_a_template_declaring_what_no_message_fills_is_refused_at_start(
    tmp_path: Path, declared: str, refusal: str
) -> None:
    with pytest.raises(ValueError, match=refusal):
        delivery_config(
            Settings(data_dir=tmp_path, link_keys="k", zns_templates=declared),
            "unused-queue",
        )


@pytest.mark.parametrize(
    ("value", "limit", "shortened"),
    [
        ("Báo cáo quý IV", 40, "Báo cáo quý IV"),
        ("Báo cáo chuyển đổi số quý IV", 12, "Báo cáo…"),
        ("Báo cáo, chuyển đổi", 10, "Báo cáo…"),
        ("Chuyểnđổisốtoàntỉnh", 8, "Chuyểnđ…"),
    ],
)
def test_a_value_is_shortened_on_a_word_boundary(value: str, limit: int, shortened: str) -> None:
    assert shorten(value, limit) == shortened
    assert len(shorten(value, limit)) <= limit


async def test_the_send_activity_fills_the_registered_template_of_an_issue_message(
    engine: Engine, gateway: Gateway, tmp_path: Path
) -> None:
    config = delivery_config(
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
            zns_refresh_token="refresh-1",
            zns_templates=DECLARED,
        ),
        "unused-queue",
    )
    title = "Rà soát, cập nhật danh mục thủ tục hành chính thuộc thẩm quyền giải quyết cấp xã"
    send = await one_message(engine, config, "24133", title, "zalo")
    outcome = await DeliveryActivities(engine, None, config).send_message(send)
    assert outcome.status == SendStatus.ACCEPTED
    ((_, sent),) = gateway.sent("/message/template")
    data = sent["template_data"]
    assert sorted(data) == sorted(REGISTERED)
    assert data["tieu_de"] == "Rà soát, cập nhật danh mục thủ tục hành…"
    assert all(len(data[name]) <= p.max_length for name, p in REGISTERED.items())


def test_a_number_or_date_is_never_cut() -> None:
    declared = parse_template_parameters("digest=3003|so_viec:number:2|han_xu_ly:date:8")
    filled = fill_template(declared["digest"], {"so_viec": "120", "han_xu_ly": "27/02/2026"})
    assert filled == {"so_viec": "120", "han_xu_ly": "27/02/2026"}


def test_a_case_kind_declares_its_receipt_code_beside_the_values_a_directive_has() -> None:
    declared = parse_template_parameters(
        "feedback_routed=4002|ten_can_bo:string:30|ma_ho_so:string:20|tieu_de:string:30"
        "|don_vi:string:30|han_xu_ly:date:10|lien_ket:string:200"
    )
    values = {
        "ten_can_bo": "Trần Văn Bình",
        "ma_ho_so": "7K3MQ9XD2HTBW",
        "tieu_de": "Đèn chiếu sáng công cộng",
        "don_vi": "Phường Buôn Ma Thuột",
        "han_xu_ly": "12/03/2027",
        "lien_ket": "http://axis.test/api/v1/feedback/5",
    }
    assert fill_template(declared["feedback_routed"], values) == values
