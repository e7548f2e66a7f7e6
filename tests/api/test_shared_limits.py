"""Rate limits that hold behind the compose load balancer and across its API replicas: the
counts live in the database, the client is the address the trusted proxy saw, a username is
limited from every address together, and the anonymous POSTs that start a workflow and email a
leader stop at exactly their allowance, per address and overall."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from app import create_app
from config import Settings
from db.models import Feedback
from services.accounts import create_account
from tests.conftest import api_app
from vocabulary.cases import feedback_workflow_id
from vocabulary.roles import Role

pytestmark = pytest.mark.security

LINKS = 3
# httpx's ASGI transport connects from this address unless told otherwise: the proxy.
PROXY = "127.0.0.1"


@asynccontextmanager
async def client_from(
    app: FastAPI, address: str, base_url: str = "http://axis.test"
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 4000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url, timeout=60) as http:
        yield http


async def test_two_api_processes_on_one_database_give_one_allowance(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    figure: Callable[[str], None],
) -> None:
    # Two apps with the same settings on one database, as the compose file's two replicas;
    # the second needs no worker of its own (a link POST starts nothing).
    second = create_app(
        Settings(
            database_url=database_url,
            temporal_address="127.0.0.1:9",
            link_rate_limit=LINKS,
            rate_count_namespace=task_queue,
        )
    )
    async with (
        api_app(local_env, database_url, engine, task_queue, executor, link_rate_limit=LINKS)
        as (_, first),
        second.router.lifespan_context(second),
        client_from(first, "203.0.113.20") as to_first,
        client_from(second, "203.0.113.20") as to_second,
    ):  # fmt: skip
        used = [(await to_first.post(f"/a/guess-{i}")).status_code for i in range(LINKS)]
        refused = await to_second.post("/a/guess-late")
        again = await to_first.post("/a/guess-later")
    figure(
        f"{LINKS} link POSTs to the first process answered {used}; the second then answered "
        f"{refused.status_code} (Retry-After {refused.headers.get('Retry-After')} s)"
    )
    assert used == [400] * LINKS
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json() == {
        "detail": "too many acknowledgement links from this address; try again later"
    }
    assert again.status_code == 429


async def test_behind_a_trusted_proxy_each_citizen_has_a_bucket_and_spoofing_is_ignored(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    async with api_app(
        local_env, database_url, engine, task_queue, executor,
        link_rate_limit=LINKS, trusted_proxies=f"{PROXY}/32, 10.0.0.0/8",
    ) as (api, _):  # fmt: skip
        # What the load balancer sends: whatever the client wrote, then the address it saw.
        def via_proxy(citizen: str, written: str = "") -> dict[str, str]:
            return {"X-Forwarded-For": f"{written}, {citizen}" if written else citizen}

        first = [
            (await api.http.post(f"/a/g{i}", headers=via_proxy("203.0.113.1"))).status_code
            for i in range(LINKS)
        ]
        refused = await api.http.post("/a/g", headers=via_proxy("203.0.113.1"))
        # The same citizen writing another address first changes nothing.
        spoofed = await api.http.post("/a/g", headers=via_proxy("203.0.113.1", "198.51.100.77"))
        # A second proxy hop (10.x) is skipped, the citizen behind it still counts.
        through_two = await api.http.post("/a/g", headers=via_proxy("10.1.2.3", "203.0.113.1"))
        neighbour = await api.http.post("/a/g", headers=via_proxy("203.0.113.2"))
    assert first == [400] * LINKS
    assert refused.status_code == 429
    assert spoofed.status_code == 429
    assert through_two.status_code == 429
    assert neighbour.status_code == 400


async def test_an_untrusted_peer_cannot_pick_its_bucket_with_x_forwarded_for(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    async with (
        api_app(
            local_env, database_url, engine, task_queue, executor,
            link_rate_limit=LINKS, trusted_proxies="10.0.0.0/8",
        ) as (_, app),
        client_from(app, "198.51.100.5") as http,
    ):  # fmt: skip
        answers = [
            (await http.post("/a/g", headers={"X-Forwarded-For": f"203.0.113.{i}"})).status_code
            for i in range(LINKS + 1)
        ]
    assert answers == [400] * LINKS + [429]


async def test_a_username_guessed_from_many_addresses_is_refused_after_its_allowance(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    figure: Callable[[str], None],
) -> None:
    per_username, addresses = 4, 6
    username, password = f"u{uuid.uuid4().hex[:10]}", "mật khẩu đúng 2026"
    with Session(engine) as session, session.begin():
        create_account(session, username, password, Role.STEERING_OFFICE, "Văn phòng thử")
    async with api_app(
        local_env, database_url, engine, task_queue, executor,
        login_max_failures=10, login_username_max_failures=per_username,
    ) as (_, app):  # fmt: skip

        async def sign_in(address: str, secret: str) -> int:
            async with client_from(app, address, "https://axis.test") as http:
                form = await http.get("/login")
                found = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert found, form.text[:300]
                answer = await http.post(
                    "/login",
                    data={"username": username, "password": secret, "csrf": found.group(1)},
                )
                return answer.status_code

        # One wrong password from each of six addresses, each far under its own allowance.
        wrong = [await sign_in(f"203.0.113.{i}", "đoán bừa") for i in range(addresses)]
        right = await sign_in("198.51.100.200", password)
        other = f"u{uuid.uuid4().hex[:10]}"
        with Session(engine) as session, session.begin():
            create_account(session, other, password, Role.STEERING_OFFICE, "Văn phòng khác")
        username = other
        unaffected = await sign_in("203.0.113.0", password)
    figure(
        f"one wrong password from each of {addresses} addresses answered {wrong}; the right "
        f"password from a seventh: {right}; another username from the first address: {unaffected}"
    )
    assert wrong == [401] * per_username + [429] * (addresses - per_username)
    assert right == 429
    assert unaffected == 303


async def test_anonymous_posts_stop_at_the_allowance_per_address_and_overall(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    figure: Callable[[str], None],
) -> None:
    per_address, overall = 3, 5
    marker = f"ổ gà {uuid.uuid4().hex[:8]}"
    async with (
        api_app(
            local_env, database_url, engine, task_queue, executor,
            anonymous_post_limit=per_address, anonymous_post_total_limit=overall,
        ) as (api, app),
        client_from(app, "203.0.113.31") as first,
        client_from(app, "203.0.113.32") as second,
        client_from(app, "203.0.113.33") as third,
    ):  # fmt: skip
        form = {"description": f"{marker} trên đường Lê Duẩn"}
        open311 = [
            await first.post("/api/v1/open311/requests.json", data=form)
            for _ in range(per_address + 1)
        ]
        pages = [await second.post("/gop-y", data=form) for _ in range(3)]
        late = await third.post("/api/v1/open311/requests.json", data=form)
        with Session(engine) as session:
            ids = list(
                session.scalars(select(Feedback.id).where(Feedback.description.like(f"{marker}%")))
            )
            stored = session.scalar(
                select(func.count()).where(Feedback.description.like(f"{marker}%"))
            )
        statuses = [
            (await api.temporal.get_workflow_handle(feedback_workflow_id(i)).describe()).status
            for i in ids
        ]
    figure(
        f"Open311 from one address: {[a.status_code for a in open311]}; the form from a second: "
        f"{[p.status_code for p in pages]}; Open311 from a third: {late.status_code}; "
        f"{stored} feedbacks stored, {len(statuses)} workflows"
    )
    assert [a.status_code for a in open311] == [200] * per_address + [429]
    refused = open311[-1]
    assert refused.json() == [
        {"code": 429, "description": "too many requests filed from this address; try again later"}
    ]
    assert int(refused.headers["Retry-After"]) >= 1
    # The second address files two more: five in all, the overall allowance.
    assert [p.status_code for p in pages] == [201, 201, 429]
    assert pages[-1].headers["content-type"].startswith("text/html")
    assert "Vui lòng thử lại sau" in pages[-1].text and int(pages[-1].headers["Retry-After"]) >= 1
    assert late.status_code == 429
    assert late.json() == [
        {"code": 429, "description": "too many requests filed at once; try again later"}
    ]
    assert stored == overall and len(ids) == overall
    assert all(
        s in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED) for s in statuses
    )


async def test_a_limiter_without_its_database_answers_503_not_500() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/unreachable",
        temporal_address="127.0.0.1:9",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_from(app, "203.0.113.40") as http:
        link = await http.post("/a/guess")
        lookup = await http.get("/api/v1/lookup/0000000000000")
    assert (link.status_code, lookup.status_code) == (503, 503)
    assert link.json() == {"detail": "the database is not reachable; try again shortly"}
