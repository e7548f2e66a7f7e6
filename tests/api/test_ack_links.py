"""One-click acknowledgement links over HTTP, on the real app, dev server and worker: a link
from a message works once; every attack of the security table (tampered, expired, reused,
wrong assignment, superseded directive, GET/HEAD by a mail scanner, signed by a retired key) is
refused with no effect; a link signed before a key rotation still works."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from activities.delivery import delivery_config
from activities.links import sign_link, verify_link
from app import create_app
from config import Settings
from db.models import AssignmentEventRow, UsedLink
from tests.api.test_directives_api import eventually, in_days, iso7, unique_title
from tests.conftest import PUBLIC_URL, running_worker, temporal_address

COMMUNES = ["24121", "24133", "24175", "24163"]
SIGNED_BY_WORKER = "key-before-rotation"
API_KEYS = "key-after-rotation,key-before-rotation"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/a/(\S+)")


@dataclass
class Stack:
    http: httpx.AsyncClient
    admin: str
    engine: Engine

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}"}


@pytest.fixture
async def stack(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    """The worker signs with the key of before a rotation; the API already verifies with the
    new key first and the old one after it."""
    admin = f"admin-{uuid.uuid4().hex}"
    worker_settings = Settings(data_dir=tmp_path, link_keys=SIGNED_BY_WORKER)
    config = delivery_config(worker_settings, task_queue)
    app = create_app(
        Settings(
            database_url=database_url,
            temporal_address=temporal_address(local_env),
            task_queue=task_queue,
            admin_token=admin,
            public_url=PUBLIC_URL,
            link_keys=API_KEYS,
            data_dir=tmp_path,
        )
    )
    async with (
        running_worker(local_env.client, engine, task_queue, executor, delivery=config),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL, timeout=60
        ) as http,
    ):
        yield Stack(http, admin, engine)


def acknowledgements(engine: Engine, directive_id: int) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            select(AssignmentEventRow.commune_code, func.count())
            .where(
                AssignmentEventRow.directive_id == directive_id,
                AssignmentEventRow.kind == "acknowledged",
            )
            .group_by(AssignmentEventRow.commune_code)
        )
        return {code: n for code, n in rows}


async def links_of(stack: Stack, directive_id: int, kind: str, count: int) -> dict[str, str]:
    """The acknowledgement link in each commune leader's message of `kind`, by commune."""

    async def found() -> dict[str, str]:
        answer = await stack.http.get(
            "/api/v1/notifications",
            params={"directive_id": directive_id, "kind": kind, "limit": 100},
            headers=stack.auth(),
        )
        rows = [n for n in answer.json()["data"] if n["recipient_role"] == "commune_leader"]
        assert len(rows) == count
        links = {}
        for n in rows:
            match = LINK.search(n["body"])
            assert match is not None, n["body"]
            links[n["commune_code"]] = match.group(1)
        return links

    return await eventually(found)


async def test_every_link_attack_is_refused_and_a_link_acknowledges_once(stack: Stack) -> None:
    issued = await stack.http.post(
        "/api/v1/directives",
        json={
            "title": unique_title("Rà soát <b>dữ liệu</b>"),
            "body": "Mỗi xã rà soát dữ liệu.",
            "communes": COMMUNES,
            "deadline": iso7(in_days(3)),
            "reminder_offsets": [],
            "escalation": [],
        },
        headers=stack.auth(),
    )
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["id"]
    links = await links_of(stack, directive_id, "issued", len(COMMUNES))
    first, second, amended, rotated = COMMUNES
    keys = API_KEYS.split(",")
    now = datetime.now(UTC)
    genuine = verify_link(keys, links[first], now)
    assert (genuine.directive_id, genuine.commune_code) == (directive_id, first)
    # The link holds ids only: no name, email or phone of the person.
    assert "@" not in links[first] and "example" not in links[first]

    def page(answer: httpx.Response) -> str:
        assert answer.headers["content-type"].startswith("text/html")
        assert '<html lang="vi">' in answer.text
        return answer.text

    # A mail scanner opens the link: GET and HEAD show the page and change nothing.
    for _ in range(3):
        shown = await stack.http.get(f"/a/{links[first]}")
        assert shown.status_code == 200
        assert "Xác nhận đã nhận nhiệm vụ" in page(shown)
        assert "&lt;b&gt;dữ liệu&lt;/b&gt;" in shown.text  # the title is text, not markup
        assert (await stack.http.head(f"/a/{links[first]}")).status_code == 200
    assert acknowledgements(stack.engine, directive_id) == {}

    payload, _, signature = links[first].rpartition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    attacks = {
        "tampered signature": (f"{payload}.{flipped}", 400, "Liên kết không hợp lệ"),
        "tampered commune": (
            links[first].replace(f".{first}.", f".{second}."),
            400,
            "Liên kết không hợp lệ",
        ),
        "wrong assignment": (
            sign_link(keys, replace(genuine, commune_code="24109")),
            404,
            "Không tìm thấy nhiệm vụ",
        ),
        "expired": (
            sign_link(keys, replace(genuine, expires_at=now - timedelta(seconds=1))),
            410,
            "Liên kết đã hết hạn",
        ),
        "retired key": (sign_link(["a-retired-key"], genuine), 400, "Liên kết không hợp lệ"),
        "garbage": ("not-a-token", 400, "Liên kết không hợp lệ"),
    }
    for name, (token, status, heading) in attacks.items():
        for method in ("GET", "POST"):
            answer = await stack.http.request(method, f"/a/{token}")
            assert (name, method, answer.status_code) == (name, method, status)
            assert heading in page(answer)
    assert acknowledgements(stack.engine, directive_id) == {}

    # The button: acknowledged once; the same link again, and another link of the same
    # assignment, have no second effect.
    done = await stack.http.post(f"/a/{links[first]}")
    assert done.status_code == 200
    assert "Đã xác nhận" in page(done)
    reused = await stack.http.post(f"/a/{links[first]}")
    assert reused.status_code == 409
    assert "Liên kết đã được sử dụng" in page(reused)
    other_link = sign_link(keys, replace(genuine, link_id="another-message-link"))
    again = await stack.http.post(f"/a/{other_link}")
    assert again.status_code == 200
    assert "Đã xác nhận trước đó" in page(again)
    assert acknowledgements(stack.engine, directive_id) == {first: 1}
    detail = await stack.http.get(
        f"/api/v1/directives/{directive_id}/assignments/{first}", headers=stack.auth()
    )
    assert detail.json()["status"] == "acknowledged"

    # A new text supersedes the links sent before it; the amendment's own message has a new
    # one that works.
    patched = await stack.http.patch(
        f"/api/v1/directives/{directive_id}", json={"body": "Nội dung mới."}, headers=stack.auth()
    )
    assert patched.status_code == 200, patched.text
    superseded = await stack.http.post(f"/a/{links[amended]}")
    assert superseded.status_code == 410
    assert "Nội dung chỉ đạo đã thay đổi" in page(superseded)
    assert amended not in acknowledgements(stack.engine, directive_id)
    new_links = await links_of(stack, directive_id, "amended", len(COMMUNES))
    assert (await stack.http.post(f"/a/{new_links[amended]}")).status_code == 200

    # Signed by the key of before the rotation (the worker's), verified after it.
    assert verify_link(keys[1:], new_links[rotated], now).commune_code == rotated
    assert (await stack.http.post(f"/a/{new_links[rotated]}")).status_code == 200
    assert acknowledgements(stack.engine, directive_id) == {first: 1, amended: 1, rotated: 1}
    with Session(stack.engine) as session:
        used = session.scalar(
            select(func.count(UsedLink.id)).where(UsedLink.directive_id == directive_id)
        )
    # first's link, the other link of first (already acknowledged), amended's, rotated's
    assert used == 4
