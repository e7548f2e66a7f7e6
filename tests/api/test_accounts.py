"""Accounts for real people through the API, on SQLite and PostgreSQL: the office opens one
(201 with a single-use setup link, only its hash stored), lists, disables, enables and resets
them; every refusal is a 4xx that changes nothing; other roles get 403; each change is one
audit entry, read back exactly through GET /api/v1/audit. No Temporal is needed: the app runs
without a worker."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import create_app
from config import Settings
from db.models import AccountSetup, ApiToken, AuditEntry, Person, WebAccount
from services.principals import hash_token
from tests.conftest import PUBLIC_URL
from tests.gateways import smtp_server

# Nothing listens here: the account routes never need the workflow engine.
NO_TEMPORAL = "127.0.0.1:9"


class AccountsApi:
    def __init__(self, http: httpx.AsyncClient, admin: str, engine: Engine, app: FastAPI) -> None:
        self.http = http
        self.admin = admin
        self.engine = engine
        self.app = app

    async def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def open(self, **body: Any) -> dict[str, Any]:
        body.setdefault("username", fresh_username())
        body.setdefault("name", "Nguyễn Văn Thử")
        body.setdefault("role", "reader")
        answer = await self.call("POST", "/api/v1/accounts", json=body)
        assert answer.status_code == 201, answer.text
        opened: dict[str, Any] = answer.json()
        return opened

    def token(self, role: str, commune_code: str | None = None) -> str:
        """A token row written directly: these tests are about accounts, not token creation."""
        secret = f"axis_test_{uuid.uuid4().hex}"
        with Session(self.engine) as session, session.begin():
            session.add(
                ApiToken(
                    name=f"{role} test",
                    role=role,
                    commune_code=commune_code,
                    token_hash=hash_token(secret),
                    created_at=datetime.now(UTC),
                )
            )
        return secret

    def admin_token_id(self) -> int:
        with Session(self.engine) as session:
            found = session.scalar(
                select(ApiToken.id).where(ApiToken.token_hash == hash_token(self.admin))
            )
        assert found is not None
        return found

    def last_audit_id(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0

    def account_count(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(WebAccount)) or 0


def fresh_username() -> str:
    return f"u.{uuid.uuid4().hex[:10]}"


def token_of(setup_url: str) -> str:
    prefix = f"{PUBLIC_URL}/setup/"
    assert setup_url.startswith(prefix), setup_url
    return setup_url.removeprefix(prefix)


@asynccontextmanager
async def accounts_app(
    database_url: str, engine: Engine, base_url: str = "http://axis.test", **overrides: Any
) -> AsyncIterator[AccountsApi]:
    admin = f"admin-{uuid.uuid4().hex}"
    settings = Settings(
        database_url=database_url,
        temporal_address=NO_TEMPORAL,
        admin_token=admin,
        public_url=PUBLIC_URL,
        rate_count_namespace=f"accounts-{uuid.uuid4().hex[:8]}",
        **overrides,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, timeout=60
        ) as http,
    ):
        yield AccountsApi(http, admin, engine, app)


@pytest.fixture
async def accounts(database_url: str, engine: Engine) -> AsyncIterator[AccountsApi]:
    async with accounts_app(database_url, engine) as api:
        yield api


async def test_the_office_opens_an_account_with_a_setup_link_stored_as_a_hash(
    accounts: AccountsApi,
) -> None:
    username = fresh_username()
    answer = await accounts.call(
        "POST",
        "/api/v1/accounts",
        json={"username": username, "name": "Lãnh đạo xã", "role": "commune_leader",
              "commune_code": "24133"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {
        "id", "username", "role", "commune_code", "setup_url", "setup_expires_at", "emailed",
    }  # fmt: skip
    assert (body["username"], body["role"], body["commune_code"], body["emailed"]) == (
        username, "commune_leader", "24133", False,
    )  # fmt: skip
    token = token_of(body["setup_url"])
    assert len(token) == 43
    with Session(accounts.engine) as session:
        account = session.get(WebAccount, body["id"])
        assert account is not None
        assert (account.password_hash, account.disabled_at, account.demo) == ("", None, False)
        setups = list(
            session.scalars(select(AccountSetup).where(AccountSetup.account_id == account.id))
        )
        assert len(setups) == 1
        assert setups[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert setups[0].used_at is None
        assert setups[0].created_by == f"token:{accounts.admin_token_id()}"
        # 72 hours to the second.
        assert (setups[0].expires_at - setups[0].created_at).total_seconds() == 72 * 3600
        assert datetime.fromisoformat(body["setup_expires_at"]) == setups[0].expires_at


async def test_refusals_answer_4xx_with_a_message_and_change_nothing(
    accounts: AccountsApi,
) -> None:
    taken = await accounts.open()
    before = accounts.account_count()
    audit_before = accounts.last_audit_id()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"username": taken["username"], "name": "x", "role": "reader"}, 409, "taken"),
        ({"username": fresh_username(), "name": "x", "role": "commune_leader"}, 422,
         "needs commune_code"),
        ({"username": fresh_username(), "name": "x", "role": "commune_leader",
          "commune_code": "99999"}, 422, "unknown commune 99999"),
        ({"username": fresh_username(), "name": "x", "role": "reader", "commune_code": "24133"},
         422, "province-wide"),
        ({"username": "ab", "name": "x", "role": "reader"}, 422, "not valid"),
        ({"username": "Upper.Case", "name": "x", "role": "reader"}, 422, "not valid"),
        ({"username": "has space", "name": "x", "role": "reader"}, 422, "not valid"),
        ({"username": "đặng", "name": "x", "role": "reader"}, 422, "not valid"),
        ({"username": "a" * 65, "name": "x", "role": "reader"}, 422, "64"),
        ({"username": fresh_username(), "name": "x", "role": "admin"}, 422, "role"),
        ({"username": fresh_username(), "name": "x", "role": "reader", "password": "x"}, 422,
         "password"),
        ({"username": fresh_username(), "name": "x", "role": "reader", "email": "nobody"}, 422,
         "not an address"),
    ]  # fmt: skip
    for body, code, message in cases:
        answer = await accounts.call("POST", "/api/v1/accounts", json=body)
        assert answer.status_code == code, (body, answer.text)
        assert message in answer.json()["detail"], (body, answer.text)
    assert accounts.account_count() == before
    assert accounts.last_audit_id() == audit_before


async def test_only_the_steering_office_manages_accounts_and_reads_the_audit_log(
    accounts: AccountsApi,
) -> None:
    target = await accounts.open()
    tokens = [
        accounts.token("commune_leader", "24133"),
        accounts.token("official_in_charge"),
        accounts.token("reader"),
    ]
    calls = [
        ("POST", "/api/v1/accounts", {"username": fresh_username(), "name": "x", "role": "reader"}),
        ("GET", "/api/v1/accounts", None),
        ("POST", f"/api/v1/accounts/{target['id']}/disable", None),
        ("POST", f"/api/v1/accounts/{target['id']}/enable", None),
        ("POST", f"/api/v1/accounts/{target['id']}/reset", None),
        ("GET", "/api/v1/audit", None),
    ]
    before = accounts.account_count()
    statuses = [
        (await accounts.call(method, path, token, json=body)).status_code
        for token in tokens
        for method, path, body in calls
    ]
    assert statuses == [403] * 18
    no_token = await accounts.http.get("/api/v1/accounts")
    assert no_token.status_code == 401
    assert accounts.account_count() == before


async def test_an_unknown_account_answers_404(accounts: AccountsApi) -> None:
    for action in ("disable", "enable", "reset"):
        answer = await accounts.call("POST", f"/api/v1/accounts/987654321/{action}")
        assert answer.status_code == 404, answer.text
        assert answer.json()["detail"] == "account 987654321 not found"


async def test_the_list_shows_every_account_without_hashes(accounts: AccountsApi) -> None:
    opened = await accounts.open(email="Thu.Nghiem@Example.Invalid")
    answer = await accounts.call("GET", "/api/v1/accounts")
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == len(body["data"]) == accounts.account_count()
    mine = [a for a in body["data"] if a["id"] == opened["id"]]
    assert len(mine) == 1
    row = mine[0]
    assert "password_hash" not in row and "token_hash" not in row
    assert (row["username"], row["role"], row["email"], row["disabled"], row["has_password"],
            row["open_sessions"], row["last_signed_in_at"]) == (
        opened["username"], "reader", "thu.nghiem@example.invalid", False, False, 0, None,
    )  # fmt: skip


async def test_an_official_is_tied_to_the_roster_person_with_the_same_email(
    accounts: AccountsApi,
) -> None:
    with Session(accounts.engine) as session:
        person_id = session.scalar(
            select(Person.id).where(Person.email == "can-bo-01@example.invalid")
        )
    assert person_id is not None
    official = await accounts.open(role="official_in_charge", email="CAN-BO-01@example.invalid")
    stranger = await accounts.open(role="official_in_charge", email="khong-co@example.invalid")
    office = await accounts.open(role="steering_office", email="can-bo-01@example.invalid")
    with Session(accounts.engine) as session:
        linked = [
            session.get(WebAccount, a["id"]).person_id  # type: ignore[union-attr]
            for a in (official, stranger, office)
        ]
    # Only an official's communes come from the roster; the office's account stays untied.
    assert linked == [person_id, None, None]


async def test_disable_enable_reset_and_their_audit_entries_exactly(
    accounts: AccountsApi,
) -> None:
    after = accounts.last_audit_id()
    opened = await accounts.open(role="commune_leader", commune_code="24121")
    first_link = opened["setup_url"]
    path = f"/api/v1/accounts/{opened['id']}"
    disabled = await accounts.call("POST", f"{path}/disable")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    # A second disable changes nothing and writes no entry.
    again = await accounts.call("POST", f"{path}/disable")
    assert again.status_code == 200 and again.json()["disabled"] is True
    enabled = await accounts.call("POST", f"{path}/enable")
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    reset = await accounts.call("POST", f"{path}/reset")
    assert reset.status_code == 200
    assert reset.json()["setup_url"] != first_link
    assert reset.json()["id"] == opened["id"]

    page = await accounts.call("GET", f"/api/v1/audit?after={after}")
    assert page.status_code == 200
    body = page.json()
    actor = f"token:{accounts.admin_token_id()}"
    assert [(e["actor"], e["action"], e["subject"]) for e in body["data"]] == [
        (actor, "account.created", opened["username"]),
        (actor, "account.disabled", opened["username"]),
        (actor, "account.enabled", opened["username"]),
        (actor, "account.reset", opened["username"]),
    ]
    assert body["data"][0]["detail"] == {"role": "commune_leader", "commune_code": "24121"}
    assert body["data"][0]["client"] == "127.0.0.1"
    ids = [e["id"] for e in body["data"]]
    assert ids == sorted(ids) and body["count"] == 4 and body["next_after"] == ids[-1]
    # No link or hash in any entry.
    assert (
        token_of(first_link) not in page.text
        and token_of(reset.json()["setup_url"]) not in page.text
    )

    first_two = (await accounts.call("GET", f"/api/v1/audit?after={after}&limit=2")).json()
    assert [e["id"] for e in first_two["data"]] == ids[:2] and first_two["next_after"] == ids[1]
    rest = (await accounts.call("GET", f"/api/v1/audit?after={ids[1]}")).json()
    assert [e["id"] for e in rest["data"]] == ids[2:]
    empty = (await accounts.call("GET", f"/api/v1/audit?after={ids[-1]}")).json()
    assert (empty["data"], empty["count"], empty["next_after"]) == ([], 0, ids[-1])
    refused = await accounts.call("GET", "/api/v1/audit?after=-1")
    assert refused.status_code == 422


async def test_the_setup_link_is_emailed_when_the_account_has_an_address_and_smtp_is_set(
    database_url: str, engine: Engine
) -> None:
    async with (
        smtp_server() as sink,
        accounts_app(
            database_url, engine, smtp_host=sink.host, smtp_port=sink.port, smtp_starttls=False
        ) as api,
    ):
        with_email = await api.open(email="lanh-dao-moi@example.invalid", name="Trần Thị Bình")
        without = await api.open()
        reset = await api.call("POST", f"/api/v1/accounts/{with_email['id']}/reset")
    assert (with_email["emailed"], without["emailed"], reset.json()["emailed"]) == (
        True, False, True,
    )  # fmt: skip
    received = sink.to("lanh-dao-moi@example.invalid")
    assert len(received) == 2 and len(sink.messages) == 2
    bodies = [m.get_content() for m in received]  # type: ignore[attr-defined]
    assert with_email["setup_url"] in bodies[0] and with_email["username"] in bodies[0]
    assert reset.json()["setup_url"] in bodies[1]
    assert "Trần Thị Bình" in bodies[0]
