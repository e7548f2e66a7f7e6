"""Page sizes: on every list operation of the OpenAPI document (those taking `limit`), a limit
above the maximum is capped to the maximum (AXIS_MAX_PAGE_SIZE) or refused with 422 where the
operation declares its own bound. An app with a maximum of 2 shows the cap on lists that hold
more rows than that."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from app import create_app
from config import Settings
from tests.api.test_directives_api import issue, opened
from tests.conftest import ApiClient, api_app

pytestmark = pytest.mark.security

MAX = 2
ABOVE = 10**6


@pytest.fixture
async def capped(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[ApiClient]:
    async with api_app(
        local_env, database_url, engine, task_queue, executor, max_page_size=MAX
    ) as (api, _):
        yield api


def list_operations() -> list[str]:
    spec = create_app(Settings()).openapi()
    return [
        path
        for path, operations in spec["paths"].items()
        if any(p["name"] == "limit" for p in operations.get("get", {}).get("parameters", []))
    ]


async def test_a_limit_above_the_maximum_is_capped_or_refused_on_every_list(
    capped: ApiClient, figure: Callable[[str], None]
) -> None:
    api = capped
    directive = await issue(api, communes=["24133", "24121", "24175"])
    await opened(api, directive["id"])
    paths = list_operations()
    outcomes: Counter[str] = Counter()
    wrong: list[str] = []
    for path in paths:
        url = path.replace("{directive_id}", str(directive["id"])).replace("{recurring_id}", "1")
        answer = await api.request("GET", url, params={"limit": ABOVE})
        if answer.status_code == 422:
            outcomes["422"] += 1
            continue
        body = answer.json()
        items = body["data"] if isinstance(body, dict) and "data" in body else body
        if answer.status_code != 200 or len(items) > MAX:
            wrong.append(f"{path}: {answer.status_code}, {len(items)} rows")
        outcomes["capped, full page" if len(items) == MAX else "capped, short page"] += 1
    figure(f"limit={ABOVE:,} on {len(paths)} list operations (max {MAX}): {dict(outcomes)}")
    assert wrong == [], wrong
    # The three assignments, their messages and the directives of the session fill a page.
    assert outcomes["capped, full page"] >= 3
    assert len(paths) >= 9
