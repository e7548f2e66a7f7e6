"""Property-based fuzzing from the app's own OpenAPI document (schemathesis): for every
operation, cases that fit the schema and cases that do not, sent as the steering office to the
real app (dev server, worker, database). The promise: no server error (5xx), whatever the input.

Hypothesis draws in a thread; each case goes to the app on the test's event loop, where the
worker runs too. Paths that name a directive, a commune or a token get real ones, so the cases
reach past the 404s."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.core.result import Ok

from app import create_app
from config import Settings
from tests.api.test_directives_api import issue, opened
from tests.api.test_open311 import post_request
from tests.api.test_procedures_api import dossier_body
from tests.conftest import ApiClient

pytestmark = pytest.mark.security

EXAMPLES_PER_MODE = 3
# Issuing a directive fans out to up to 102 communes: fewer of those.
HEAVY = {("POST", "/api/v1/directives"): 2, ("POST", "/api/v1/recurring-directives"): 2}


def send(api: ApiClient, loop: asyncio.AbstractEventLoop, case: Any, token: str) -> httpx.Response:
    kwargs: dict[str, Any] = {
        "params": case.query or None,
        # The office's own token, not a generated one: the cases must get past authentication.
        "headers": {
            k: str(v) for k, v in (case.headers or {}).items() if k.lower() != "authorization"
        },
    }
    if isinstance(case.body, bytes):
        # A negative case: raw bytes under the declared media type.
        kwargs["content"] = case.body
        kwargs["headers"].setdefault("Content-Type", case.media_type or "application/json")
    elif not isinstance(case.body, NotSet):
        kwargs["json"] = case.body
    call = api.request(case.method.upper(), case.formatted_path, token=token, **kwargs)
    try:
        return asyncio.run_coroutine_threadsafe(call, loop).result(timeout=120)
    except Exception as e:
        # The app raised instead of answering: the server would have sent a 500.
        answer = httpx.Response(500, text=f"{type(e).__name__}: {e}")
        answer.request = httpx.Request(case.method, f"http://axis.test{case.formatted_path}")
        # Never sent, so never timed: schemathesis reads the time taken of every answer, and
        # without one it would fail on that instead of naming the operation that raised.
        answer.elapsed = timedelta(0)
        return answer


async def real_ids(api: ApiClient) -> dict[str, Any]:
    """Path parameters that name objects of this test's own: a directive opened in two
    communes, a spare token, a dossier and a feedback whose workflows run on this test's
    worker (a case left by an earlier test has no worker any more, and an update to it would
    wait)."""
    directive = await issue(api, communes=["24133", "24121"])
    await opened(api, directive["id"])
    # A token of its own to revoke: DELETE /tokens/{token_id} must not revoke the office's.
    spare = await api.request("POST", "/api/v1/tokens", json={"role": "reader", "name": "spare"})
    dossier = await api.request("POST", "/api/v1/dossiers", json=dossier_body("24133"))
    assert dossier.status_code == 201, dossier.text
    filed = await post_request(
        api.http, jurisdiction_id="daklak.gov.vn", service_code="lighting",
        description="Đèn đường trước chợ tắt cả tuần nay", lat="12.80449", long="108.4505",
        **{"attribute[commune_code]": "24133"},
    )  # fmt: skip
    assert filed.status_code == 200, filed.text
    return {
        "directive_id": directive["id"],
        "commune_code": "24133",
        "token_id": spare.json()["id"],
        "dossier_id": dossier.json()["id"],
        "feedback_id": int(filed.json()[0]["service_request_id"]),
    }


def every_operation() -> list[Any]:
    """Every operation of the app's own OpenAPI document."""
    schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
    results = list(schema.get_all_operations())
    # An operation schemathesis cannot read would go untested: none may be left out.
    assert [r for r in results if not isinstance(r, Ok)] == []
    return [r.ok() for r in results if isinstance(r, Ok)]


def run_cases(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    fixed: dict[str, Any],
    check: Callable[[Any], None],
) -> bool:
    """Draw up to `examples` cases of one operation, their path parameters naming real objects
    so they reach past the 404s, and `check` each; False when the operation has nothing to
    break (no parameters or body: no negative cases)."""
    names = {p.name for p in operation.path_parameters}
    strategy = operation.as_strategy(
        generation_mode=mode,
        path_parameters={k: v for k, v in fixed.items() if k in names} or None,
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(case: Any) -> None:
        check(case)

    try:
        one()
    except Unsatisfiable:
        return False
    return True


async def test_no_server_error_over_generated_cases_of_every_operation(
    api: ApiClient, figure: Callable[[str], None]
) -> None:
    fixed = await real_ids(api)
    office = await api.token("steering_office")
    operations = every_operation()
    loop = asyncio.get_running_loop()
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    unbreakable: list[tuple[str, str]] = []

    def fuzz(operation: Any, mode: GenerationMode) -> None:
        key = (operation.method.upper(), operation.path)

        def check(case: Any) -> None:
            answer = send(api, loop, case, office)
            statuses[answer.status_code] += 1
            if answer.status_code >= 500:
                sent = f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200}"
                errors.append(f"{sent}: {answer.status_code} {answer.text[:200]}")

        if not run_cases(operation, mode, HEAVY.get(key, EXAMPLES_PER_MODE), fixed, check):
            unbreakable.append(key)

    started = time.monotonic()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            await asyncio.to_thread(fuzz, operation, mode)
    n = sum(statuses.values())
    figure(
        f"{n} generated cases over {len(operations)} operations in "
        f"{time.monotonic() - started:.0f} s: {len(errors)} server errors; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    assert errors == [], "\n".join(errors)
    assert n >= len(operations) * 2
