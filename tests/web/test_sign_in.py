"""Signing in to the pages: argon2id hashes computed off the event loop a few at a time, old
scrypt hashes replaced at sign-in, demo accounts only in demo mode, and an audit entry for every
sign-in, failed sign-in, refused demo sign-in and sign-out. No Temporal needed: the sign-in page
and form never reach it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import services.passwords as passwords
from app import create_app
from config import Settings, get_settings
from db.engine import make_engine
from db.models import AuditEntry, WebAccount, WebSession
from migrate import prepare_database
from services.accounts import DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USERNAME, create_account
from vocabulary.roles import Role

PASSWORD = "mat-khau-dang-nhap"
WRONG_ANSWER = "Sai tên đăng nhập hoặc mật khẩu."
ARGON2ID_NOW = "$argon2id$v=19$m=19456,t=2,p=1$"
# The test client's address, as the rate limiter and the audit log see it.
CLIENT = "127.0.0.1"
# A bound on waiting for the other side, so that a regression fails instead of hanging.
NEVER_SECONDS = 60


def scrypt_hash_from_before(password: str) -> str:
    """A hash exactly as web/passwords.py made them before argon2id."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt$16384$8$1${b64(salt).decode()}${b64(key).decode()}"


def settings_for(url: str, data_dir: Path, **overrides: object) -> Settings:
    return Settings(
        database_url=url,
        # Nothing listens there: these pages must not need Temporal.
        temporal_address="127.0.0.1:9",
        data_dir=data_dir,
        **overrides,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.ASGITransport]:
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app)


async def sign_in(transport: httpx.ASGITransport, username: str, password: str) -> httpx.Response:
    """One browser of its own: the sign-in form (its CSRF cookie), then the form sent."""
    async with httpx.AsyncClient(transport=transport, base_url="https://axis.test") as browser:
        form = await browser.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found, form.text[:500]
        return await browser.post(
            "/login", data={"username": username, "password": password, "csrf": found.group(1)}
        )


def new_account(engine: Engine, password_hash: str | None = None) -> str:
    username = f"u{uuid.uuid4().hex[:10]}"
    with Session(engine) as session, session.begin():
        account = create_account(session, username, PASSWORD, Role.STEERING_OFFICE, "Văn phòng")
        if password_hash is not None:
            account.password_hash = password_hash
    return username


def stored_hash(engine: Engine, username: str) -> str:
    with Session(engine) as session:
        return session.scalars(
            select(WebAccount.password_hash).where(WebAccount.username == username)
        ).one()


def audit_of(engine: Engine, subject: str) -> list[tuple[str, str, str | None, dict[str, str]]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id)
        )
        return [(row.actor, row.action, row.client, row.detail) for row in rows]


def sessions_of(engine: Engine, username: str) -> int:
    with Session(engine) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(WebSession)
                .join(WebAccount, WebAccount.id == WebSession.account_id)
                .where(WebAccount.username == username)
            )
            or 0
        )


class BlockingHasher:
    """Stands in for `verify_password`: records the thread each check runs on and how many run
    at once, and holds every check until `release` is set (by the test, not by a clock)."""

    def __init__(self, real: Callable[[str, str], bool], hold_until_inside: int) -> None:
        self.real = real
        self.hold_until_inside = hold_until_inside
        self.loop = asyncio.get_running_loop()
        self.enough_inside = asyncio.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.inside = self.peak = 0
        self.threads: list[int] = []

    def __call__(self, password: str, stored: str) -> bool:
        with self.lock:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            self.threads.append(threading.get_ident())
            if self.inside == self.hold_until_inside:
                self.loop.call_soon_threadsafe(self.enough_inside.set)
        try:
            assert self.release.wait(NEVER_SECONDS), "never released"
            return self.real(password, stored)
        finally:
            with self.lock:
                self.inside -= 1


async def test_sign_ins_hash_off_the_event_loop_two_at_a_time_while_pages_are_served(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usernames = [new_account(engine) for _ in range(8)]
    hasher = BlockingHasher(passwords.verify_password, hold_until_inside=2)
    monkeypatch.setattr(passwords, "verify_password", hasher)
    loop_thread = threading.get_ident()
    async with running(create_app(settings_for(database_url, tmp_path))) as transport:
        burst = [asyncio.ensure_future(sign_in(transport, u, PASSWORD)) for u in usernames]
        await asyncio.wait_for(hasher.enough_inside.wait(), NEVER_SECONDS)
        # Two checks are stuck in their threads and six wait their turn: the process still
        # serves a page. With hashing on the event loop, this request could not even start.
        async with httpx.AsyncClient(transport=transport, base_url="https://axis.test") as other:
            page = await other.get("/login")
        assert page.status_code == 200
        assert not any(pending.done() for pending in burst)
        hasher.release.set()
        answers = await asyncio.gather(*burst)
    assert [a.status_code for a in answers] == [303] * 8
    assert len(hasher.threads) == 8
    assert loop_thread not in hasher.threads
    # AXIS_PASSWORD_HASH_CONCURRENCY's default: never more than two at once.
    assert get_settings().password_hash_concurrency == 2
    assert hasher.peak == 2


async def test_the_bound_on_hashes_at_once_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXIS_PASSWORD_HASH_CONCURRENCY", "3")
    get_settings.cache_clear()
    # The bound is made once per event loop; this test's loop gets a new one from the setting.
    monkeypatch.setattr(passwords, "_SLOTS", weakref.WeakKeyDictionary())
    try:
        stored = passwords.hash_password(PASSWORD)
        hasher = BlockingHasher(passwords.verify_password, hold_until_inside=3)
        monkeypatch.setattr(passwords, "verify_password", hasher)
        checks = [
            asyncio.ensure_future(passwords.verify_password_async(PASSWORD, stored))
            for _ in range(10)
        ]
        await asyncio.wait_for(hasher.enough_inside.wait(), NEVER_SECONDS)
        hasher.release.set()
        assert await asyncio.gather(*checks) == [True] * 10
    finally:
        get_settings.cache_clear()
    assert hasher.peak == 3
    assert len(hasher.threads) == 10


def test_a_concurrency_below_one_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="password_hash_concurrency"):
        Settings(password_hash_concurrency=0)


def test_hashes_are_argon2id_at_owasp_cost_and_scrypt_ones_still_verify() -> None:
    new, old = passwords.hash_password(PASSWORD), scrypt_hash_from_before(PASSWORD)
    assert new.startswith(ARGON2ID_NOW)
    assert passwords.DUMMY_HASH.startswith(ARGON2ID_NOW)
    assert passwords.verify_password(PASSWORD, new) and passwords.verify_password(PASSWORD, old)
    assert not passwords.verify_password("khac", new)
    assert not passwords.verify_password("khac", old)
    assert not passwords.verify_password(PASSWORD, "")
    assert not passwords.verify_password(PASSWORD, "$argon2id$garbage")
    assert (passwords.needs_rehash(new), passwords.needs_rehash(old)) == (False, True)
    cheaper = "$argon2id$v=19$m=8192,t=2,p=1$" + new.removeprefix(ARGON2ID_NOW)
    assert passwords.needs_rehash(cheaper)


async def test_an_old_scrypt_hash_signs_in_and_is_replaced_by_argon2id(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    old = scrypt_hash_from_before(PASSWORD)
    username = new_account(engine, old)
    async with running(create_app(settings_for(database_url, tmp_path))) as transport:
        first = await sign_in(transport, username, PASSWORD)
        replaced = stored_hash(engine, username)
        again = await sign_in(transport, username, PASSWORD)
    assert (first.status_code, again.status_code) == (303, 303)
    assert replaced.startswith(ARGON2ID_NOW)
    assert passwords.verify_password(PASSWORD, replaced)
    # Replaced once; the second sign-in found nothing to replace.
    assert stored_hash(engine, username) == replaced


async def test_a_wrong_password_does_not_rehash(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    old = scrypt_hash_from_before(PASSWORD)
    username = new_account(engine, old)
    async with running(create_app(settings_for(database_url, tmp_path))) as transport:
        answer = await sign_in(transport, username, "mat-khau-sai-roi")
    assert answer.status_code == 401
    assert WRONG_ANSWER in answer.text
    assert stored_hash(engine, username) == old
    assert sessions_of(engine, username) == 0


async def test_an_account_without_a_password_never_signs_in(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = new_account(engine, "")
    checked: list[str] = []
    real = passwords.verify_password

    def recording(password: str, stored: str) -> bool:
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", recording)
    async with running(create_app(settings_for(database_url, tmp_path))) as transport:
        answers = [
            await sign_in(transport, username, attempt) for attempt in ("bat-ky-gi", PASSWORD)
        ]
    assert [a.status_code for a in answers] == [401, 401]
    assert all(WRONG_ANSWER in a.text for a in answers)
    # Each attempt cost one full hash check, as for a real account.
    assert checked == [passwords.DUMMY_HASH, passwords.DUMMY_HASH]
    assert sessions_of(engine, username) == 0
    assert stored_hash(engine, username) == ""
    reasons = [detail["reason"] for _, _, _, detail in audit_of(engine, username)]
    assert reasons == ["no_password_yet", "no_password_yet"]


async def test_every_sign_in_failure_and_sign_out_is_audited_without_the_password(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    username = new_account(engine)
    disabled = new_account(engine)
    with Session(engine) as session, session.begin():
        account = session.scalars(select(WebAccount).where(WebAccount.username == disabled)).one()
        account.disabled_at = datetime.now(UTC)
    unknown = f"khong-co-{uuid.uuid4().hex[:8]}"
    async with running(create_app(settings_for(database_url, tmp_path))) as transport:
        wrong = await sign_in(transport, username, "doan-bua-mot-cai")
        nobody = await sign_in(transport, unknown, PASSWORD)
        off = await sign_in(transport, disabled, PASSWORD)
        async with httpx.AsyncClient(transport=transport, base_url="https://axis.test") as browser:
            form = await browser.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf
            ok = await browser.post(
                "/login", data={"username": username, "password": PASSWORD, "csrf": csrf.group(1)}
            )
            with Session(engine) as session:
                token = session.scalars(
                    select(WebSession.csrf_token)
                    .join(WebAccount, WebAccount.id == WebSession.account_id)
                    .where(WebAccount.username == username)
                ).one()
            out = await browser.post("/logout", data={"csrf": token})
    assert [a.status_code for a in (wrong, nobody, off, ok, out)] == [401, 401, 401, 303, 303]
    assert audit_of(engine, username) == [
        ("anonymous", "signin.failed", CLIENT, {"reason": "wrong_password"}),
        (f"account:{username}", "signin.ok", CLIENT, {}),
        (f"account:{username}", "signout", CLIENT, {}),
    ]
    assert audit_of(engine, unknown) == [
        ("anonymous", "signin.failed", CLIENT, {"reason": "unknown_username"})
    ]
    assert audit_of(engine, disabled) == [
        ("anonymous", "signin.failed", CLIENT, {"reason": "disabled"})
    ]
    assert sessions_of(engine, username) == 0
    with Session(engine) as session:
        written = " ".join(
            f"{e.actor} {e.action} {e.subject} {e.client} {e.detail}"
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.subject.in_([username, unknown, disabled]))
            )
        )
    for secret in (PASSWORD, "doan-bua-mot-cai"):
        assert secret not in written


async def test_demo_accounts_sign_in_only_in_demo_mode(
    scratch_database_url: str, tmp_path: Path
) -> None:
    url = scratch_database_url
    engine = make_engine(url)
    try:
        # Prepared as production is: no demo account, even on a database with the demo roster.
        prepare_database(settings_for(url, tmp_path, load_demo_roster=False))
        with Session(engine) as session:
            assert session.scalar(select(func.count()).where(WebAccount.demo.is_(True))) == 0
        # An earlier run in demo mode left the demo accounts behind.
        prepare_database(settings_for(url, tmp_path, load_demo_roster=True))
        with Session(engine) as session:
            demo_office = session.scalars(
                select(WebAccount).where(WebAccount.username == DEMO_OFFICE_USERNAME)
            ).one()
        assert demo_office.demo
        production = settings_for(url, tmp_path / "off", load_demo_roster=False)
        own_roster = settings_for(
            url, tmp_path / "roster", load_demo_roster=True, roster_csv=tmp_path / "roster.csv"
        )
        refused = []
        for settings in (production, own_roster):
            async with running(create_app(settings)) as transport:
                refused.append(await sign_in(transport, DEMO_OFFICE_USERNAME, DEMO_OFFICE_PASSWORD))
        assert [a.status_code for a in refused] == [401, 401]
        assert all(WRONG_ANSWER in a.text for a in refused)
        assert sessions_of(engine, DEMO_OFFICE_USERNAME) == 0
        async with running(create_app(settings_for(url, tmp_path / "demo"))) as transport:
            demo = await sign_in(transport, DEMO_OFFICE_USERNAME, DEMO_OFFICE_PASSWORD)
        assert demo.status_code == 303
        assert sessions_of(engine, DEMO_OFFICE_USERNAME) == 1
        refusal = ("anonymous", "signin.refused_demo", CLIENT)
        reason = {"reason": "demo_account_outside_demo_mode"}
        assert audit_of(engine, DEMO_OFFICE_USERNAME) == [
            (*refusal, reason),
            (*refusal, reason),
            (f"account:{DEMO_OFFICE_USERNAME}", "signin.ok", CLIENT, {}),
        ]
    finally:
        engine.dispose()
