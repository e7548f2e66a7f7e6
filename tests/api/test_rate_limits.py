"""Rate limits on the endpoints worth flooding: past the allowance within the window, 429 with
Retry-After, for that principal (or address) only. An app of the test's own with small
allowances shows the edge exactly; the defaults are far above what the 102-commune triple-click
storm (3 acknowledgements per leader, 102 tokens made by the office) needs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from config import Settings
from tests.api.test_directives_api import act, issue, opened
from tests.conftest import ApiClient, api_app

pytestmark = pytest.mark.security

TOKENS, ACKS, LINKS, WINDOW = 5, 3, 4, 60


@pytest.fixture
async def limited(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[tuple[ApiClient, FastAPI]]:
    async with api_app(
        local_env, database_url, engine, task_queue, executor,
        token_rate_limit=TOKENS, ack_rate_limit=ACKS, link_rate_limit=LINKS,
        rate_window_seconds=WINDOW,
    ) as found:  # fmt: skip
        yield found


def refused_for_a_while(answer: httpx.Response) -> bool:
    # The window slides over two fixed ones (api/shared_counts.py): a count made now weighs on
    # the next window too, so the wait can exceed one window, never two.
    return answer.status_code == 429 and 1 <= int(answer.headers["Retry-After"]) <= 2 * WINDOW


def test_the_defaults_leave_room_for_the_acknowledgement_storm() -> None:
    defaults = Settings()
    # 102 leader tokens made by one office token, 3 clicks per leader, one link click each.
    assert defaults.token_rate_limit >= 2 * 102
    assert defaults.ack_rate_limit >= 10 * 3
    assert defaults.link_rate_limit >= 3 * 3


async def test_token_creation_is_refused_past_the_allowance_of_one_principal(
    limited: tuple[ApiClient, FastAPI], figure: Callable[[str], None]
) -> None:
    api, _ = limited
    other_office = await api.token("steering_office")
    made = [await api.request("POST", "/api/v1/tokens", json={"role": "reader", "name": f"r{i}"})
            for i in range(TOKENS - 1)]  # fmt: skip
    past = await api.request("POST", "/api/v1/tokens", json={"role": "reader", "name": "late"})
    other = await api.request(
        "POST", "/api/v1/tokens", token=other_office, json={"role": "reader", "name": "other"}
    )
    statuses = [201] + [a.status_code for a in made]
    figure(
        f"{len(statuses)} tokens made then {past.status_code} "
        f"(Retry-After {past.headers.get('Retry-After')} s); another office: {other.status_code}"
    )
    assert statuses == [201] * TOKENS
    assert refused_for_a_while(past), past.text
    assert past.json()["detail"] == "too many tokens created; try again later"
    assert other.status_code == 201


async def test_acknowledgements_are_refused_past_the_allowance_of_one_leader(
    limited: tuple[ApiClient, FastAPI], figure: Callable[[str], None]
) -> None:
    api, _ = limited
    directive = await issue(api, communes=["24133", "24121"])
    directive_id = directive["id"]
    await opened(api, directive_id)
    leader, neighbour = (
        await api.token("commune_leader", "24133"),
        await api.token("commune_leader", "24121"),
    )
    clicks = [await act(api, leader, directive_id, "24133", "acknowledge") for _ in range(ACKS)]
    past = await act(api, leader, directive_id, "24133", "acknowledge")
    other = await act(api, neighbour, directive_id, "24121", "acknowledge")
    figure(
        f"{len(clicks)} acknowledgements answered {[c.status_code for c in clicks]}, then "
        f"{past.status_code} (Retry-After {past.headers.get('Retry-After')} s); "
        f"another commune's leader: {other.status_code}"
    )
    assert [c.status_code for c in clicks] == [200] * ACKS
    assert [c.json()["already_acknowledged"] for c in clicks] == [False] + [True] * (ACKS - 1)
    assert refused_for_a_while(past), past.text
    assert other.status_code == 200 and other.json()["already_acknowledged"] is False


async def test_link_posts_are_refused_past_the_allowance_of_one_address(
    limited: tuple[ApiClient, FastAPI], figure: Callable[[str], None]
) -> None:
    api, app = limited
    # Guessed links from one address: each is refused as tampered until the allowance is gone.
    guesses = [await api.http.post(f"/a/guess-{i}") for i in range(LINKS)]
    past = await api.http.post("/a/guess-late")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 4000)),
        base_url="http://axis.test",
    ) as elsewhere:
        other = await elsewhere.post("/a/guess-other")
    figure(
        f"{len(guesses)} link POSTs answered {sorted({g.status_code for g in guesses})}, then "
        f"{past.status_code} (Retry-After {past.headers.get('Retry-After')} s); "
        f"another address: {other.status_code}"
    )
    assert [g.status_code for g in guesses] == [400] * LINKS
    assert refused_for_a_while(past), past.text
    assert other.status_code == 400
