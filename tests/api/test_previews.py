"""The steering office previews any template for a commune without sending; the notifications
list shows where each message stands on its way (here: no channel is configured)."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.models import Notification, OutboxEntry
from tests.api.test_directives_api import eventually, in_days, iso7, unique_title
from tests.conftest import ApiClient

PREVIEW = "/api/v1/notifications/preview"
KINDS = [
    "issued", "reminder", "overdue", "escalation", "amended", "recalled", "returned",
    "extension_decided", "digest",
]  # fmt: skip


async def test_every_template_previews_for_a_commune_and_nothing_is_sent(
    api: ApiClient, engine: Engine
) -> None:
    with Session(engine) as session:
        before = (
            session.scalar(select(func.count(Notification.id))),
            session.scalar(select(func.count(OutboxEntry.id))),
        )
    rendered = 0
    for kind in KINDS:
        for channel in ("email", "sms"):
            for language in ("vi", "en"):
                answer = await api.request(
                    "GET",
                    PREVIEW,
                    params={
                        "kind": kind,
                        "channel": channel,
                        "language": language,
                        "commune_code": "24133",
                    },
                )
                assert answer.status_code == 200, answer.text
                shown = answer.json()
                if channel == "sms":
                    assert shown["characters"] <= 160 and shown["body"].isascii()
                else:
                    assert "Buôn Ma Thuột" in shown["body"] or kind == "digest"
                rendered += 1
    assert rendered == 36
    with Session(engine) as session:
        after = (
            session.scalar(select(func.count(Notification.id))),
            session.scalar(select(func.count(OutboxEntry.id))),
        )
    assert after == before

    leader = await api.token("commune_leader", "24133")
    params = {"kind": "issued", "commune_code": "24133"}
    assert (await api.request("GET", PREVIEW, token=leader, params=params)).status_code == 403
    unknown = await api.request("GET", PREVIEW, params={**params, "commune_code": "99999"})
    assert unknown.status_code == 404
    bad = await api.request("GET", PREVIEW, params={**params, "kind": "{{7*7}}"})
    assert bad.status_code == 422


async def test_the_notifications_list_shows_each_messages_delivery_state(api: ApiClient) -> None:
    issued = await api.request(
        "POST",
        "/api/v1/directives",
        json={
            "title": unique_title(),
            "body": "Nội dung.",
            "communes": ["24121", "24133"],
            "deadline": iso7(in_days(3)),
        },
    )
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["id"]

    async def listed() -> list[dict[str, object]]:
        answer = await api.request(
            "GET", "/api/v1/notifications", params={"directive_id": directive_id}
        )
        rows: list[dict[str, object]] = answer.json()["data"]
        assert len(rows) == 2
        return rows

    rows = await eventually(listed)
    # The test installation configures no channel: each message ends, visibly, undelivered.
    assert [(r["delivery_state"], r["delivery_attempts"], r["delivery_channel"]) for r in rows] == [
        ("no_channel", 0, None),
        ("no_channel", 0, None),
    ]
