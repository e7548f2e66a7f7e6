"""Refusing the enumeration of receipt codes: a client (by address) that has had too many wrong
codes within a window gets 429 for every lookup until the oldest failure leaves the window.

Kept in the API process's memory: with N API processes a client gets N times the allowance,
which 60-bit codes make harmless; a shared store would be needed only to keep the numbers exact."""

from __future__ import annotations

import time
from collections import deque
from threading import RLock

from fastapi import HTTPException, Request, status


class FailureLimiter:
    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        message: str = "too many unknown receipt codes from this address; try again later",
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.message = message
        self._failures: dict[str, deque[float]] = {}
        # Re-entrant: take() checks and records under one hold.
        self._lock = RLock()

    def _recent(self, client: str, now: float) -> deque[float]:
        found = self._failures.setdefault(client, deque())
        while found and found[0] <= now - self.window_seconds:
            found.popleft()
        return found

    def check(self, client: str) -> None:
        """Raise 429 if the client has used up its wrong codes."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent(client, now)
            if len(recent) >= self.max_failures:
                retry = int(recent[0] + self.window_seconds - now) + 1
                raise HTTPException(
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    self.message,
                    headers={"Retry-After": str(retry)},
                )

    def fail(self, client: str) -> None:
        with self._lock:
            self._record(client)

    def take(self, client: str) -> None:
        """Count a request that every call uses up (not only failures): 429 past the allowance."""
        with self._lock:
            self.check(client)
            self._record(client)

    def _record(self, client: str) -> None:
        self._recent(client, time.monotonic()).append(time.monotonic())
        if len(self._failures) > 100_000:
            # A flood of addresses must not grow memory without bound.
            self._failures.clear()


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter_of(request: Request) -> FailureLimiter:
    limiter: FailureLimiter | None = getattr(request.app.state, "lookup_limiter", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = FailureLimiter(settings.lookup_max_failures, settings.lookup_window_seconds)
        request.app.state.lookup_limiter = limiter
    return limiter
