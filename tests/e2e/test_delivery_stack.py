"""The Done-when of delivery, on the product as `make run` starts it: with quiet hours off and
AXIS_SMTP_HOST/PORT pointing at an SMTP server on loopback (aiosmtpd), a directive's messages
arrive there, each reminder holds an acknowledgement link on AXIS_PUBLIC_URL, and following it
as a person would (open, press, press again) acknowledges the assignment once."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from tests.e2e.test_stack import TOKEN, eventually, free_port, running_stack

pytestmark = pytest.mark.live


class Mailbox:
    """An SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in list(self.messages) if m["To"] == address]


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mailbox: tuple[Mailbox, int]) -> Iterator[str]:
    port = free_port()
    with running_stack(
        tmp_path_factory.mktemp("delivery-stack"),
        AXIS_PORT=str(port),
        # Messages go out at once, to the SMTP server on loopback; links on the API's address.
        AXIS_QUIET_HOURS="",
        AXIS_SMTP_HOST="127.0.0.1",
        AXIS_SMTP_PORT=str(mailbox[1]),
        AXIS_PUBLIC_URL=f"http://127.0.0.1:{port}",
    ) as base:
        yield base


@pytest.fixture
async def http(stack: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stack, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        yield client


async def test_the_stack_emails_a_directives_messages_and_a_reminder_link_acknowledges_once(
    http: httpx.AsyncClient, stack: str, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    codes = ["24121", "24133", "24175"]
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    issued = await http.post(
        "/api/v1/directives",
        json={
            "title": "Kiểm tra hộp thư công vụ",
            "body": "Mỗi xã, phường kiểm tra và xác nhận.",
            "communes": codes,
            "deadline": deadline.isoformat(),
            "reminder_offsets": ["PT20S"],
            "escalation": [],
        },
        headers={"Idempotency-Key": "e2e-mail"},
    )
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["id"]
    leaders = {code: f"lanh-dao-{code}@example.invalid" for code in codes}

    def titled(code: str, prefix: str) -> list[EmailMessage]:
        return [
            m
            for m in box.to(leaders[code])
            if "Kiểm tra hộp thư công vụ" in m["Subject"] and m["Subject"].startswith(prefix)
        ]

    async def reminded() -> bool:
        return all(len(titled(code, "[Nhắc hạn]")) == 1 for code in codes)

    await eventually(reminded, 60, "a reminder by email for each of the three communes")
    assert [len(titled(code, "[Chỉ đạo]")) for code in codes] == [1, 1, 1]
    assert len({m["Message-ID"] for code in codes for m in titled(code, "[")}) == 6

    (reminder,) = titled("24133", "[Nhắc hạn]")
    match = re.search(re.escape(stack) + r"/a/\S+", str(reminder.get_content()))
    assert match is not None, reminder.get_content()
    link = match.group(0)
    async with httpx.AsyncClient(timeout=30) as person:
        opened = await person.get(link)
        assert opened.status_code == 200
        assert "Xác nhận đã nhận nhiệm vụ" in opened.text
        clicked = await person.post(link)
        assert clicked.status_code == 200
        assert "Đã xác nhận" in clicked.text
        twice = await person.post(link)
        assert twice.status_code == 409
        assert "Liên kết đã được sử dụng" in twice.text
    base = f"/api/v1/directives/{directive_id}/assignments"
    detail = (await http.get(f"{base}/24133")).json()
    assert detail["status"] == "acknowledged"
    assert [e["kind"] for e in detail["events"]].count("acknowledged") == 1
    others = [(await http.get(f"{base}/{code}")).json()["status"] for code in ("24121", "24175")]
    assert others == ["notified", "notified"]

    shown = (await http.get("/api/v1/notifications", params={"directive_id": directive_id})).json()[
        "data"
    ]
    leader_rows = [n for n in shown if n["recipient_role"] == "commune_leader"]
    assert len(leader_rows) == 6
    assert {(n["delivery_state"], n["delivery_channel"]) for n in leader_rows} == {
        ("sent", "email")
    }
