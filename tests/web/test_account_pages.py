"""Accounts through the pages, on SQLite and PostgreSQL: the setup link (GET shows the form
and consumes nothing; the password rules, each refused with its sentence; a good password signs
the person in; the link works once, expires after 72 hours, and a reset supersedes it), the
office's /accounts page (open, disable, enable, reset, the link shown once) and a disabled
account's next request landing on /login."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from api.access_log import RedactSecretPaths
from db.models import AccountSetup, AuditEntry, WebAccount, WebSession
from services.accounts import create_account
from services.password_rules import breached_passwords
from services.passwords import verify_password
from tests.api.test_accounts import AccountsApi, accounts_app, fresh_username, token_of
from tests.web.test_pages_http import csrf_of
from vocabulary.roles import Role

GOOD_PASSWORD = "Gió núi Chư Yang Sin 2026"
OFFICE_PASSWORD = "mat-khau-van-phong-thu"


@pytest.fixture
async def site(database_url: str, engine: Engine) -> AsyncIterator[AccountsApi]:
    # https: the session cookie is Secure off loopback.
    async with accounts_app(database_url, engine, base_url="https://axis.test") as api:
        yield api


def browser(site: AccountsApi) -> httpx.AsyncClient:
    """A client with cookies of its own on the same app."""
    return httpx.AsyncClient(
        transport=site.http._transport, base_url="https://axis.test", timeout=60
    )


def path_of(setup_url: str) -> str:
    return f"/setup/{token_of(setup_url)}"


def account_row(engine: Engine, account_id: int) -> WebAccount:
    with Session(engine) as session:
        account = session.get(WebAccount, account_id)
        assert account is not None
        return account


async def choose(
    client: httpx.AsyncClient, path: str, password: str, confirm: str | None = None
) -> httpx.Response:
    form = await client.get(path)
    assert form.status_code == 200, form.text
    return await client.post(
        path,
        data={"password": password, "confirm": password if confirm is None else confirm,
              "csrf": csrf_of(form.text)},
    )  # fmt: skip


async def sign_in_office(site: AccountsApi, client: httpx.AsyncClient) -> str:
    """A steering-office account with a password, signed in on `client`; its username."""
    username = f"vp.{uuid.uuid4().hex[:8]}"
    with Session(site.engine) as session, session.begin():
        create_account(session, username, OFFICE_PASSWORD, Role.STEERING_OFFICE, "Văn phòng thử")
    form = await client.get("/login")
    answer = await client.post(
        "/login",
        data={"username": username, "password": OFFICE_PASSWORD, "csrf": csrf_of(form.text)},
    )
    assert answer.status_code == 303, answer.text
    return username


def test_the_breached_list_holds_the_common_passwords_case_insensitively() -> None:
    common = breached_passwords()
    assert len(common) >= 1000
    for password in ("123456789", "matkhau123", "anhyeuem", "iloveyou", "1234567890",
                     "qwertyuiop", "password123", "anhyeuem123"):  # fmt: skip
        assert password in common


async def test_the_setup_link_sets_a_password_once_and_signs_the_person_in(
    site: AccountsApi,
) -> None:
    opened = await site.open(role="commune_leader", commune_code="24133")
    path = path_of(opened["setup_url"])
    async with browser(site) as person:
        # Looking at the form twice consumes nothing.
        for _ in range(2):
            form = await person.get(path)
            assert form.status_code == 200
            assert opened["username"] in form.text and "Đặt mật khẩu" in form.text
            assert form.headers["referrer-policy"] == "no-referrer"
        with Session(site.engine) as session:
            assert session.scalar(
                select(AccountSetup.used_at).where(AccountSetup.account_id == opened["id"])
            ) is None  # fmt: skip

        after = site.last_audit_id()
        done = await choose(person, path, GOOD_PASSWORD)
        assert done.status_code == 303 and done.headers["location"] == "/inbox"
        inbox = await person.get("/inbox")
        assert inbox.status_code == 200, inbox.text[:300]

        account = account_row(site.engine, opened["id"])
        assert verify_password(GOOD_PASSWORD, account.password_hash)
        with Session(site.engine) as session:
            entries = list(
                session.scalars(
                    select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id)
                )
            )
        actor = f"account:{opened['username']}"
        assert [(e.actor, e.action, e.subject, e.detail) for e in entries] == [
            (actor, "account.password_set", opened["username"], {}),
            (actor, "signin.ok", opened["username"], {"via": "setup_link"}),
        ]

        # A second use: 410, and the password stays the first one.
        for method in ("GET", "POST"):
            again = await person.request(
                method, path, data={"password": "another-pass-9876", "confirm": "another-pass-9876",
                                    "csrf": "x"} if method == "POST" else None,
            )  # fmt: skip
            if method == "POST":
                # No setup form was shown, so no CSRF cookie matches: refused before anything.
                assert again.status_code == 403
            else:
                assert again.status_code == 410 and "đã được dùng" in again.text

    async with browser(site) as later:
        form = await later.get("/login")
        signed = await later.post(
            "/login",
            data={"username": opened["username"], "password": GOOD_PASSWORD,
                  "csrf": csrf_of(form.text)},
        )  # fmt: skip
        assert signed.status_code == 303 and signed.headers["location"] == "/inbox"


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("ngan-9chu", None, "ít nhất 10 ký tự"),
        ("{username}-nha-toi", None, "không được chứa tên đăng nhập"),
        ("ABC-{USERNAME}-XYZ", None, "không được chứa tên đăng nhập"),
        ("anhyeuem123", None, "quá phổ biến"),
        ("MatKhau1234", None, "quá phổ biến"),
        ("1234567890", None, "quá phổ biến"),
        ("QWERTYUIOP", None, "quá phổ biến"),
        (GOOD_PASSWORD, GOOD_PASSWORD + "!", "không khớp"),
    ],
)
async def test_each_password_rule_is_refused_with_its_sentence_and_changes_nothing(
    site: AccountsApi, password: str, confirm: str | None, message: str
) -> None:
    opened = await site.open()
    username = opened["username"]
    password = password.replace("{username}", username).replace("{USERNAME}", username.upper())
    path = path_of(opened["setup_url"])
    after = site.last_audit_id()
    async with browser(site) as person:
        answer = await choose(person, path, password, confirm)
        assert answer.status_code == 422
        assert message in answer.text
        # The link still works after a refusal.
        assert (await person.get(path)).status_code == 200
    assert account_row(site.engine, opened["id"]).password_hash == ""
    assert site.last_audit_id() == after


async def test_an_expired_link_answers_410_and_a_reset_supersedes_the_old_one(
    site: AccountsApi,
) -> None:
    opened = await site.open()
    old_path = path_of(opened["setup_url"])
    async with browser(site) as person:
        form = await person.get(old_path)
        csrf = csrf_of(form.text)
        # 72 hours later (the link's own expiry moved into the past).
        with Session(site.engine) as session, session.begin():
            session.execute(
                update(AccountSetup)
                .where(AccountSetup.account_id == opened["id"])
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        expired = await person.post(
            old_path, data={"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD, "csrf": csrf}
        )
        assert expired.status_code == 410 and "đã hết hạn" in expired.text
        assert (await person.get(old_path)).status_code == 410

        reset = await site.call("POST", f"/api/v1/accounts/{opened['id']}/reset")
        new_path = path_of(reset.json()["setup_url"])
        superseded = await person.get(old_path)
        assert superseded.status_code == 410
        assert "đã được thay bằng một liên kết mới hơn" in superseded.text
        unknown = await person.get("/setup/khong-co-lien-ket-nay")
        assert unknown.status_code == 410 and "không tồn tại" in unknown.text
        assert (await choose(person, new_path, GOOD_PASSWORD)).status_code == 303
    assert verify_password(GOOD_PASSWORD, account_row(site.engine, opened["id"]).password_hash)


async def test_a_disabled_accounts_link_answers_410(site: AccountsApi) -> None:
    opened = await site.open()
    await site.call("POST", f"/api/v1/accounts/{opened['id']}/disable")
    async with browser(site) as person:
        answer = await person.get(path_of(opened["setup_url"]))
    assert answer.status_code == 410 and "đã bị khóa" in answer.text


async def test_a_setup_form_without_its_csrf_token_is_refused(site: AccountsApi) -> None:
    opened = await site.open()
    path = path_of(opened["setup_url"])
    async with browser(site) as person:
        await person.get(path)
        answer = await person.post(
            path, data={"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD, "csrf": "forged"}
        )
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert account_row(site.engine, opened["id"]).password_hash == ""


async def test_a_disabled_account_lands_on_the_sign_in_page_at_its_next_request(
    site: AccountsApi,
) -> None:
    opened = await site.open(role="commune_leader", commune_code="24121")
    async with browser(site) as leader:
        assert (
            await choose(leader, path_of(opened["setup_url"]), GOOD_PASSWORD)
        ).status_code == 303
        assert (await leader.get("/inbox")).status_code == 200
        disabled = await site.call("POST", f"/api/v1/accounts/{opened['id']}/disable")
        assert disabled.status_code == 200
        with Session(site.engine) as session:
            open_sessions = session.scalar(
                select(func.count()).select_from(WebSession)
                .where(WebSession.account_id == opened["id"])
            )  # fmt: skip
        assert open_sessions == 0
        bounced = await leader.get("/inbox")
        assert bounced.status_code == 303
        assert bounced.headers["location"] == "/login?next=/inbox"
        # Enabled again, the person signs in anew; the old session stays gone.
        await site.call("POST", f"/api/v1/accounts/{opened['id']}/enable")
        assert (await leader.get("/inbox")).status_code == 303


def issued_link(html: str) -> str | None:
    found = re.search(r'value="(http://axis\.test/setup/[^"]+)"', html)
    return found.group(1) if found else None


async def test_the_office_manages_accounts_from_its_pages(site: AccountsApi) -> None:
    async with browser(site) as office:
        office_name = await sign_in_office(site, office)
        page = await office.get("/accounts")
        assert page.status_code == 200
        assert "Tạo tài khoản" in page.text and 'href="/accounts"' in page.text
        csrf = csrf_of(page.text)
        username = fresh_username()
        form: dict[str, Any] = {
            "username": username, "name": "Lãnh đạo Phường Tân Lập", "role": "commune_leader",
            "commune_code": "24133", "email": "", "csrf": csrf,
        }  # fmt: skip
        created = await office.post("/accounts", data=form)
        assert created.status_code == 201
        link = issued_link(created.text)
        assert link is not None and username in created.text
        assert "Chưa gửi thư" in created.text
        # Shown once: the next look at the page does not carry it.
        assert issued_link((await office.get("/accounts")).text) is None
        with Session(site.engine) as session:
            account = session.scalar(select(WebAccount).where(WebAccount.username == username))
            assert account is not None
            assert (account.role, account.commune_code, account.password_hash) == (
                "commune_leader", "24133", "",
            )  # fmt: skip
            audit = session.scalar(
                select(AuditEntry).where(AuditEntry.action == "account.created",
                                         AuditEntry.subject == username)
            )  # fmt: skip
            assert audit is not None and audit.actor == f"account:{office_name}"
        account_id = account.id

        duplicate = await office.post("/accounts", data=form)
        assert duplicate.status_code == 409 and "taken" in duplicate.text
        no_commune = await office.post(
            "/accounts", data=form | {"username": fresh_username(), "commune_code": ""}
        )
        assert no_commune.status_code == 422 and "needs commune_code" in no_commune.text
        forged = await office.post("/accounts", data=form | {"csrf": "forged"})
        assert forged.status_code == 403

        disabled = await office.post(f"/accounts/{account_id}/disable", data={"csrf": csrf})
        assert disabled.status_code == 303 and disabled.headers["location"] == "/accounts"
        assert account_row(site.engine, account_id).disabled_at is not None
        enabled = await office.post(f"/accounts/{account_id}/enable", data={"csrf": csrf})
        assert enabled.status_code == 303
        assert account_row(site.engine, account_id).disabled_at is None
        reset = await office.post(f"/accounts/{account_id}/reset", data={"csrf": csrf})
        assert reset.status_code == 200
        new_link = issued_link(reset.text)
        assert new_link is not None and new_link != link
        missing = await office.post("/accounts/987654321/disable", data={"csrf": csrf})
        assert missing.status_code == 404
        async with browser(site) as person:
            assert (await person.get(path_of(link))).status_code == 410
            assert (await person.get(path_of(new_link))).status_code == 200


async def test_the_accounts_page_is_for_the_office_only(site: AccountsApi) -> None:
    opened = await site.open(role="commune_leader", commune_code="24133")
    async with browser(site) as leader:
        await choose(leader, path_of(opened["setup_url"]), GOOD_PASSWORD)
        assert (await leader.get("/accounts")).status_code == 403
        page = await leader.get("/inbox")
        refused = await leader.post(
            f"/accounts/{opened['id']}/disable", data={"csrf": csrf_of(page.text)}
        )
        assert refused.status_code == 403
    assert account_row(site.engine, opened["id"]).disabled_at is None
    async with browser(site) as stranger:
        answer = await stranger.get("/accounts")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_setup_links_are_kept_out_of_the_access_log() -> None:
    # uvicorn's access record: (client, method, path, http version, status).
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/setup/AbC-123_xyz?lang=en", "1.1", 200), None,
    )  # fmt: skip
    assert RedactSecretPaths().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /setup/…?lang=en HTTP/1.1" 200'
