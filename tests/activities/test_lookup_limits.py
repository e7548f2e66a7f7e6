"""The wrong-code allowance is per client and runs out exactly at the threshold."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from api.lookup_limits import FailureLimiter


def test_each_client_has_its_own_allowance() -> None:
    limiter = FailureLimiter(max_failures=3, window_seconds=600)
    for _ in range(3):
        limiter.check("10.0.0.1")
        limiter.fail("10.0.0.1")
    with pytest.raises(HTTPException) as refused:
        limiter.check("10.0.0.1")
    assert refused.value.status_code == 429
    limiter.check("10.0.0.2")


def test_failures_leave_the_window() -> None:
    limiter = FailureLimiter(max_failures=1, window_seconds=0)
    limiter.fail("10.0.0.1")
    limiter.check("10.0.0.1")
