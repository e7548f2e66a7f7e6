"""The OpenAPI document says what the API answers: every status code an operation sends is
declared for it, and every answer's body fits the schema declared for that status (schemathesis's
`status_code_conformance` and `response_schema_conformance`). Clients are generated from
`/openapi.json`; an undeclared 404 or an error body of another shape breaks them.

Cases fitting the schema and cases that do not, sent as the steering office to the real app, with
real ids in the paths (the setup of the fuzzing test)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from schemathesis import GenerationMode
from schemathesis.checks import response_schema_conformance, status_code_conformance
from schemathesis.core.failures import FailureGroup

from tests.api.test_fuzzing import HEAVY, every_operation, real_ids, run_cases, send
from tests.conftest import ApiClient

pytestmark = pytest.mark.security

EXAMPLES_PER_OPERATION = 15
CHECKS = [status_code_conformance, response_schema_conformance]


async def test_every_answer_is_declared_in_the_openapi_document(
    api: ApiClient, figure: Callable[[str], None]
) -> None:
    fixed = await real_ids(api)
    office = await api.token("steering_office")
    operations = every_operation()
    loop = asyncio.get_running_loop()
    statuses: Counter[int] = Counter()
    failures: dict[str, str] = {}

    def check(case: Any) -> None:
        answer = send(api, loop, case, office)
        statuses[answer.status_code] += 1
        try:
            case.validate_response(answer, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                # One line per kind of failure and operation: 15 cases answering the same
                # undeclared 404 are one defect.
                key = f"{case.method} {case.path}: {failure.title}"
                failures.setdefault(
                    key,
                    f"{key} ({answer.status_code} {answer.text[:160]!r}; sent "
                    f"{case.formatted_path} {case.query} {case.body!r:.120})",
                )

    started = time.monotonic()
    for operation in operations:
        # Fifteen an operation, split between cases that fit the schema and cases that do not;
        # the fan-out operations as few as the fuzzing test sends.
        examples = HEAVY.get((operation.method.upper(), operation.path), EXAMPLES_PER_OPERATION)
        positive = -(-examples // 2)
        for mode, count in (
            (GenerationMode.POSITIVE, positive),
            (GenerationMode.NEGATIVE, examples - positive),
        ):
            await asyncio.to_thread(run_cases, operation, mode, count, fixed, check)
    n = sum(statuses.values())
    figure(
        f"{n} cases over {len(operations)} operations in {time.monotonic() - started:.0f} s: "
        f"{len(failures)} answers the OpenAPI document does not declare; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    assert sorted(failures.values()) == [], "\n".join(sorted(failures.values()))
    assert n >= len(operations)
