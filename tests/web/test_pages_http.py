"""The pages over real HTTP (ASGI) on SQLite and PostgreSQL, with the dev server and a
worker: sign-in, session cookies, CSRF, a leader's scope, evidence uploads and their limits,
the deadline preview and the live stamp; demo accounts only with the demo roster."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from app import create_app
from config import Settings
from db.models import EvidenceFile, WebAccount, WebSession
from migrate import prepare_database
from services.accounts import create_account, ensure_demo_accounts
from services.passwords import hash_password, verify_password
from tests.api.test_directives_api import in_days, iso7
from tests.conftest import PUBLIC_URL, running_worker, temporal_address
from vocabulary.calendar import VIETNAM, working_day_deadline
from vocabulary.roles import Role

pytestmark = pytest.mark.live
PASSWORD = "mat-khau-thu-nghiem"
PDF = b"%PDF-1.4\n% minh chung\n%%EOF\n"


class Pages:
    def __init__(self, http: httpx.AsyncClient, admin: str, engine: Engine, data: Path) -> None:
        self.http = http
        self.admin = admin
        self.engine = engine
        self.data = data

    def account(self, role: Role, commune_code: str | None = None) -> str:
        username = f"u{uuid.uuid4().hex[:10]}"
        with Session(self.engine) as session, session.begin():
            create_account(session, username, PASSWORD, role, f"{role.value} test", commune_code)
        return username

    async def browser(self, username: str) -> httpx.AsyncClient:
        """A client of its own (its own cookies), signed in."""
        client = httpx.AsyncClient(
            transport=self.http._transport, base_url="https://axis.test", timeout=60
        )
        form = await client.get("/login")
        answer = await client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
        assert answer.status_code == 303, answer.text
        return client

    async def issue(self, communes: list[str]) -> int:
        answer = await self.http.post(
            "/api/v1/directives",
            headers={"Authorization": f"Bearer {self.admin}"},
            json={
                "title": f"Kiểm tra trang {uuid.uuid4().hex[:6]}",
                "body": "Báo cáo.",
                "deadline": iso7(in_days(10)),
                "communes": communes,
            },
        )
        assert answer.status_code == 201, answer.text
        directive_id: int = answer.json()["id"]
        return directive_id


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.fixture
async def pages(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> AsyncIterator[Pages]:
    admin = f"admin-{uuid.uuid4().hex}"
    settings = Settings(
        database_url=database_url,
        temporal_address=temporal_address(local_env),
        task_queue=task_queue,
        admin_token=admin,
        public_url=PUBLIC_URL,
        data_dir=tmp_path,
        max_upload_bytes=1024,
        max_upload_files=2,
        login_max_failures=3,
        # Rate counts are shared through the session's database: each app counts on its own.
        rate_count_namespace=task_queue,
    )
    app = create_app(settings)
    async with (
        running_worker(local_env.client, engine, task_queue, executor),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://axis.test", timeout=60
        ) as http,
    ):
        yield Pages(http, admin, engine, tmp_path)


def test_passwords_are_argon2id_hashes_with_their_own_salt() -> None:
    one, two = hash_password("bí mật"), hash_password("bí mật")
    assert one.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and one != two
    assert verify_password("bí mật", one) and verify_password("bí mật", two)
    assert not verify_password("bi mat", one)
    assert not verify_password("bí mật", "sha256$abc")


async def test_sign_in_sets_a_signed_secure_cookie_and_sign_out_ends_the_session(
    pages: Pages,
) -> None:
    username = pages.account(Role.STEERING_OFFICE)
    client = pages.http
    assert (await client.get("/directives")).headers["location"] == "/login?next=/directives"

    form = await client.get("/login")
    assert '<html lang="vi">' in form.text
    token = csrf_of(form.text)
    forged = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf": "x" + token}
    )
    assert forged.status_code == 403
    wrong = await client.post(
        "/login", data={"username": username, "password": "sai", "csrf": token}
    )
    assert wrong.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in wrong.text
    token = csrf_of(wrong.text)
    guessed = pages.account(Role.STEERING_OFFICE)
    for _ in range(3):
        again = await client.post(
            "/login", data={"username": guessed, "password": "sai", "csrf": token}
        )
        assert again.status_code == 401
        token = csrf_of(again.text)
    # Three wrong passwords used up the allowance: even the right one waits.
    throttled = await client.post(
        "/login", data={"username": guessed, "password": PASSWORD, "csrf": token}
    )
    assert throttled.status_code == 429 and "quá nhiều lần" in throttled.text
    token = csrf_of((await client.get("/login")).text)
    signed = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf": token}
    )
    assert (signed.status_code, signed.headers["location"]) == (303, "/")
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("axis_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    with Session(pages.engine) as session:
        account = session.scalar(select(WebAccount).where(WebAccount.username == username))
        assert account is not None
        stored = list(
            session.scalars(select(WebSession).where(WebSession.account_id == account.id))
        )
        # Only a hash of the random id is stored, never the cookie's value.
        assert len(stored) == 1 and stored[0].token_hash not in value

    overview = await client.get("/")
    assert overview.status_code == 200 and 'id="n-open"' in overview.text
    # A tampered signature is no session.
    tampered = httpx.AsyncClient(
        transport=client._transport,
        base_url="https://axis.test",
        cookies={"axis_session": value[:-1] + ("0" if value[-1] != "0" else "1")},
    )
    assert (await tampered.get("/")).status_code == 303
    refused = await client.post("/logout", data={"csrf": "forged"})
    assert refused.status_code == 403
    out = await client.post("/logout", data={"csrf": csrf_of(overview.text)})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    with Session(pages.engine) as session:
        assert (
            session.scalar(
                select(func.count(WebSession.id)).where(WebSession.account_id == account.id)
            )
            == 0
        )
    replay = httpx.AsyncClient(
        transport=client._transport, base_url="https://axis.test", cookies={"axis_session": value}
    )
    assert (await replay.get("/")).status_code == 303


async def test_a_leader_sees_and_acts_on_their_own_commune_only(pages: Pages) -> None:
    directive_id = await pages.issue(["24133", "24121"])
    mine = await pages.browser(pages.account(Role.COMMUNE_LEADER, "24133"))
    theirs = await pages.browser(pages.account(Role.COMMUNE_LEADER, "24121"))
    only_other = await pages.issue(["24121"])

    # A link from a message, followed while signed out, comes back after the sign-in.
    link = f"/inbox/directives/{directive_id}"
    away = httpx.AsyncClient(transport=pages.http._transport, base_url="https://axis.test")
    assert (await away.get(link)).headers["location"] == f"/login?next={link}"
    form = await away.get(f"/login?next={link}")
    back = await away.post(
        "/login",
        data={
            "username": pages.account(Role.COMMUNE_LEADER, "24133"),
            "password": PASSWORD,
            "csrf": csrf_of(form.text),
            "next": link,
        },
    )
    assert back.headers["location"] == link
    assert (await away.get(link)).status_code == 200
    office = await pages.browser(pages.account(Role.STEERING_OFFICE))
    assert (await office.get(link)).headers["location"] == f"/directives/{directive_id}"
    # Never to another site.
    fresh = httpx.AsyncClient(transport=pages.http._transport, base_url="https://axis.test")
    form = await fresh.get("/login")
    answer = await fresh.post(
        "/login",
        data={
            "username": pages.account(Role.STEERING_OFFICE),
            "password": PASSWORD,
            "csrf": csrf_of(form.text),
            "next": "//evil.example/x",
        },
    )
    assert answer.headers["location"] == "/"

    inbox = await mine.get("/inbox")
    assert inbox.status_code == 200 and f"/inbox/directives/{directive_id}" in inbox.text
    assert f"/inbox/directives/{only_other}" not in inbox.text
    assert (await mine.get(f"/inbox/directives/{only_other}")).status_code == 404
    other_commune = await mine.get("/communes/24121")
    missing_commune = await mine.get("/communes/99999")
    assert other_commune.status_code == missing_commune.status_code == 404
    assert "Không có xã, phường mã 24121." in other_commune.text
    assert (await mine.get(f"/directives/{directive_id}")).status_code == 403
    assert (await mine.get("/directives/new")).status_code == 403
    assert (await mine.get("/")).headers["location"] == "/inbox"
    assert (await mine.get("/scores")).status_code == 200
    assert (await mine.get("/communes/24133")).status_code == 200

    page = await mine.get(f"/inbox/directives/{directive_id}")
    csrf = csrf_of(page.text)
    no_token = await mine.post(f"/inbox/directives/{directive_id}/acknowledge")
    assert no_token.status_code == 403
    acknowledged = await mine.post(
        f"/inbox/directives/{directive_id}/acknowledge", data={"csrf": csrf}
    )
    assert acknowledged.status_code == 303
    state = await pages.http.get(
        f"/api/v1/directives/{directive_id}/assignments/24133",
        headers={"Authorization": f"Bearer {pages.admin}"},
    )
    assert state.json()["status"] == "acknowledged"
    other_state = await pages.http.get(
        f"/api/v1/directives/{directive_id}/assignments/24121",
        headers={"Authorization": f"Bearer {pages.admin}"},
    )
    assert other_state.json()["status"] == "notified"
    # The same session's token does not open another person's session.
    forged = await theirs.post(f"/inbox/directives/{directive_id}/acknowledge", data={"csrf": csrf})
    assert forged.status_code == 403


async def test_evidence_uploads_are_checked_stored_by_random_name_and_served_to_their_commune(
    pages: Pages,
) -> None:
    directive_id = await pages.issue(["24133"])
    mine = await pages.browser(pages.account(Role.COMMUNE_LEADER, "24133"))
    other = await pages.browser(pages.account(Role.COMMUNE_LEADER, "24121"))
    office = await pages.browser(pages.account(Role.STEERING_OFFICE))
    csrf = csrf_of((await mine.get(f"/inbox/directives/{directive_id}")).text)
    url = f"/inbox/directives/{directive_id}/report"

    async def send(*files: tuple[str, bytes]) -> httpx.Response:
        return await mine.post(
            url,
            data={"csrf": csrf, "summary": "Đã xong"},
            files=[
                ("files", (name, content, "application/octet-stream")) for name, content in files
            ],
        )

    refusals = {
        "kind": await send(("chay.exe", b"MZ\x90\x00")),
        "disguised": await send(("bao-cao.pdf", b"<html>not a pdf</html>")),
        "too large": await send(("lon.pdf", PDF + b"0" * 1024)),
        "too many": await send(("a.pdf", PDF), ("b.pdf", PDF), ("c.pdf", PDF)),
        "empty": await send(("rong.pdf", b"")),
    }
    assert {k: r.status_code for k, r in refusals.items()} == dict.fromkeys(refusals, 422)
    assert "only these kinds of file" in refusals["kind"].text
    assert "larger than" in refusals["too large"].text
    evidence_dir = pages.data / "evidence"
    assert list(evidence_dir.iterdir()) == []
    with Session(pages.engine) as session:
        assert (
            session.scalar(
                select(func.count(EvidenceFile.id)).where(EvidenceFile.directive_id == directive_id)
            )
            == 0
        )

    accepted = await send(("bao-cao.pdf", PDF), ("../../anh.png", b"\x89PNG\r\n\x1a\n" + b"1"))
    assert accepted.status_code == 303, accepted.text
    stored = sorted(evidence_dir.iterdir())
    assert len(stored) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", p.name) for p in stored)
    with Session(pages.engine) as session:
        rows = list(
            session.scalars(
                select(EvidenceFile)
                .where(EvidenceFile.directive_id == directive_id)
                .order_by(EvidenceFile.id)
            )
        )
    assert [(r.original_name, r.content_type, r.size) for r in rows] == [
        ("bao-cao.pdf", "application/pdf", len(PDF)),
        ("anh.png", "image/png", 9),
    ]
    report = (
        await pages.http.get(
            f"/api/v1/directives/{directive_id}/assignments/24133",
            headers={"Authorization": f"Bearer {pages.admin}"},
        )
    ).json()
    assert report["status"] == "reported"
    assert report["report_evidence"] == [f"/evidence/{r.stored_name}" for r in rows]

    link = f"/evidence/{rows[0].stored_name}"
    served = await mine.get(link)
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in served.headers["content-disposition"]
    assert (await office.get(link)).content == PDF
    assert (await other.get(link)).status_code == 404
    assert (await other.get("/evidence/" + "0" * 32)).status_code == 404
    assert (await pages.http.get(link)).status_code == 303  # not signed in: to the sign-in


async def test_the_deadline_preview_and_the_live_stamp(pages: Pages) -> None:
    office = await pages.browser(pages.account(Role.STEERING_OFFICE))
    before = (await office.get("/live/version")).json()["version"]
    preview = (await office.get("/directives/deadline-preview?working_days=5")).json()
    assert preview["deadline"] == working_day_deadline(datetime.now(UTC), 5).isoformat()
    assert (await office.get("/directives/deadline-preview?working_days=0")).status_code == 422

    form = await office.get("/directives/new")
    issued = await office.post(
        "/directives/new",
        data={
            "csrf": csrf_of(form.text),
            "key": "k-" + uuid.uuid4().hex,
            "title": "Từ biểu mẫu",
            "body": "Nội dung",
            "mode": "working_days",
            "due_in_working_days": "5",
            "acknowledge_within": "",
            "reminders": "P1D, -P1D",
            "step1_after": "P2D",
            "step1_to": "official_in_charge",
            "step2_after": "",
            "step2_to": "steering_office",
            "communes": "24133, 24121",
        },
    )
    assert issued.status_code == 303, issued.text
    directive_id = int(issued.headers["location"].rsplit("/", 1)[1])
    shown = (
        await pages.http.get(
            f"/api/v1/directives/{directive_id}", headers={"Authorization": f"Bearer {pages.admin}"}
        )
    ).json()
    assert (shown["communes_count"], shown["due_in_working_days"]) == (2, 5)
    assert shown["escalation"] == [{"after": "P2D", "to": "official_in_charge"}]
    assert (await office.get("/live/version")).json()["version"] != before
    unique = f"mẫu-{directive_id}"
    await pages.http.patch(
        f"/api/v1/directives/{directive_id}",
        headers={"Authorization": f"Bearer {pages.admin}"},
        json={"title": f"Từ biểu {unique}"},
    )
    found = await office.get("/directives", params={"q": unique})
    assert f'href="/directives/{directive_id}"' in found.text
    assert 'Chỉ đạo <span class="muted">(1)</span>' in found.text
    wildcard = await office.get("/directives", params={"q": f"{unique[:-1]}_"})
    assert "(0)</span>" in wildcard.text

    bad = await office.post(
        "/directives/new",
        data={"csrf": csrf_of(form.text), "title": "", "body": "x", "reminders": "P1D, P1D"},
    )
    assert bad.status_code == 422


def test_demo_accounts_come_with_the_demo_roster_only(tmp_path: Path) -> None:
    demo = prepare_database(Settings(data_dir=tmp_path / "demo"))
    with Session(demo) as session:
        accounts = session.execute(
            select(WebAccount.role, func.count()).group_by(WebAccount.role)
        ).all()
    # One head per agency of db/units.csv.
    assert dict(accounts) == {"steering_office": 1, "commune_leader": 102, "agency_head": 25}
    assert ensure_demo_accounts(demo) == 0
    demo.dispose()
    production = prepare_database(Settings(data_dir=tmp_path / "prod", load_demo_roster=False))
    with Session(production) as session:
        assert session.scalar(select(func.count(WebAccount.id))) == 0
    production.dispose()


def section(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</div>', html, re.S)
    assert found, element_id
    return found.group(1)


async def test_the_overview_lists_extension_requests_and_escalations_to_the_office(
    pages: Pages,
) -> None:
    deadline = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    answer = await pages.http.post(
        "/api/v1/directives",
        headers={"Authorization": f"Bearer {pages.admin}"},
        json={
            "title": "Sắp đến hạn",
            "body": "Báo cáo ngay.",
            "deadline": iso7(deadline),
            "communes": ["24133"],
            "reminder_offsets": [],
            "escalation": [{"after": "PT1S", "to": "steering_office"}],
        },
    )
    assert answer.status_code == 201, answer.text
    directive_id = answer.json()["id"]
    row = f"/directives/{directive_id}/communes/24133"
    leader = await pages.browser(pages.account(Role.COMMUNE_LEADER, "24133"))
    office = await pages.browser(pages.account(Role.STEERING_OFFICE))

    page = await leader.get(f"/inbox/directives/{directive_id}")
    until = (deadline + timedelta(days=30)).astimezone(VIETNAM).date().isoformat()
    asked = await leader.post(
        f"/inbox/directives/{directive_id}/extension",
        data={"csrf": csrf_of(page.text), "until": until, "reason": "Chờ số liệu"},
    )
    assert asked.status_code == 303, asked.text
    overview = (await office.get("/")).text
    assert row in section(overview, "attention-extensions")
    assert row not in section(overview, "attention-escalations")

    refused = await office.post(
        f"{row}/extension", data={"csrf": csrf_of(overview), "decision": "refuse"}
    )
    assert refused.status_code == 303
    assert row not in section((await office.get("/")).text, "attention-extensions")

    # Nobody reports: a second after the deadline the ladder reaches the office.
    limit = time.monotonic() + 30
    while row not in section((overview := (await office.get("/")).text), "attention-escalations"):
        assert time.monotonic() < limit, "no escalation to the office within 30 s"
        await asyncio.sleep(0.25)
    timeline = (await office.get(row)).text
    assert "Chuyển cấp đôn đốc" in timeline and "Không được gia hạn" in timeline


async def test_the_office_amends_and_recalls_from_the_directive_page(pages: Pages) -> None:
    directive_id = await pages.issue(["24133", "24121"])
    office = await pages.browser(pages.account(Role.STEERING_OFFICE))
    page = await office.get(f"/directives/{directive_id}")
    assert page.text.count('<tr id="row-') == 2
    csrf = csrf_of(page.text)
    headers = {"Authorization": f"Bearer {pages.admin}"}

    amended = await office.post(
        f"/directives/{directive_id}/amend",
        data={"csrf": csrf, "title": "", "body": "Nội dung mới", "deadline": "2099-01-02T17:00"},
    )
    assert amended.status_code == 303, amended.text
    shown = (await pages.http.get(f"/api/v1/directives/{directive_id}", headers=headers)).json()
    assert (shown["body"], shown["revision"]) == ("Nội dung mới", 2)
    assert shown["deadline"] in ("2099-01-02T10:00:00Z", "2099-01-02T10:00:00+00:00")
    nothing = await office.post(f"/directives/{directive_id}/amend", data={"csrf": csrf})
    assert nothing.status_code == 422 and "give at least one of" in nothing.text

    recalled = await office.post(
        f"/directives/{directive_id}/recall", data={"csrf": csrf, "reason": "Ban hành nhầm"}
    )
    assert recalled.status_code == 303
    shown = (await pages.http.get(f"/api/v1/directives/{directive_id}", headers=headers)).json()
    assert shown["counts"]["status"]["cancelled"] == 2
    again = await office.post(f"/directives/{directive_id}/recall", data={"csrf": csrf})
    assert again.status_code == 409
