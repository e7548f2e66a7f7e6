"""What an assignment's timeline says of its events, in Vietnamese and in English: a reminder
sent after an outage says how many earlier reminders it replaced."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi import Request

from services.schemas import AssignmentEventPublic
from vocabulary.events import AssignmentEventKind
from web.render import render
from web.sessions import LANG_COOKIE

AT = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


def page_request(lang: str) -> Request:
    cookie = f"{LANG_COOKIE}={lang}".encode()
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/app/assignments/1/24121",
            "query_string": b"",
            "headers": [(b"cookie", cookie), (b"host", b"axis.test")],
            "scheme": "https",
            "server": ("axis.test", 443),
        }
    )


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "Đã nhắc hạn sau gián đoạn</strong> — 10:00 03/12/2026 "
         '<span class="muted">(đã bỏ qua 2 lần nhắc bị lỡ trước đó)</span>'),
        ("en", "Reminded after an outage</strong> — 03 Dec 2026 10:00 "
         '<span class="muted">(2 earlier missed reminders skipped)</span>'),
    ],
)  # fmt: skip
def test_a_reminder_sent_after_an_outage_says_how_many_it_skipped(lang: str, expected: str) -> None:
    event = AssignmentEventPublic(
        seq=1,
        kind=AssignmentEventKind.REMINDERS_SKIPPED,
        at=AT,
        actor="",
        detail={
            "sent": "reminder:86400:1",
            "skipped": "2",
            "skipped_keys": "reminder:259200:1,reminder:172800:1",
        },
    )
    html = bytes(
        render(page_request(lang), "_timeline.html", None, a=SimpleNamespace(events=[event])).body
    ).decode()

    assert html.count("<li>") == 1
    assert expected in html
