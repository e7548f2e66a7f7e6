"""Who the client is, and the limiter every rate limit of the API and the pages is made of.

`client_of(request)` is the one place the client's address is decided, for every limiter and
the audit log: the socket peer, unless that peer is a proxy listed in AXIS_TRUSTED_PROXIES.

`RateLimiter` counts in the database (serving/shared_counts.py), so every API process sees the
same counts. Receipt-code lookups use it as a failure limiter: a client (by address) that has
had too many wrong codes within the window gets 429 for every lookup until enough of the window
has passed."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from functools import lru_cache

from fastapi import HTTPException, Request, status

from config import Settings
from serving.shared_counts import SharedCounts

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A header value is not a key: what a proxy passed on is cut to the longest address's length.
MAX_ADDRESS_CHARS = 45


class RateLimited(HTTPException):
    """429 with Retry-After: past a limit's allowance within its window."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(
            status.HTTP_429_TOO_MANY_REQUESTS,
            message,
            headers={"Retry-After": str(retry_after_seconds)},
        )
        self.message = message
        self.retry_after_seconds = retry_after_seconds


class RateLimiter:
    """An allowance per key within a sliding window, counted in the database. `take` counts
    every request (refused ones give their count back); `check` and `fail` count failures
    only (a wrong code, a wrong password)."""

    def __init__(
        self,
        counts: SharedCounts,
        scope: str,
        allowance: int,
        window_seconds: int,
        message: str = "too many unknown receipt codes from this address; try again later",
    ) -> None:
        self.counts = counts
        self.scope = scope
        self.allowance = allowance
        self.window_seconds = max(1, window_seconds)
        self.message = message

    async def check(self, key: str) -> None:
        """Raise RateLimited if the key has used up its allowance."""
        tally = await self.counts.read(self.scope, key, self.window_seconds)
        if tally.estimate >= self.allowance:
            raise RateLimited(self.message, tally.retry_after(self.allowance))

    async def fail(self, key: str) -> None:
        await self.counts.add(self.scope, key, self.window_seconds)

    async def take(self, key: str) -> None:
        """Count one request; past the allowance raise RateLimited and count nothing.

        Counting first and giving back on refusal keeps the allowance exact when processes
        count at once: of two requests racing for the last place, one sees the other's count."""
        tally = await self.counts.add(self.scope, key, self.window_seconds)
        if tally.estimate > self.allowance:
            await self.counts.give_back(self.scope, key, self.window_seconds)
            given_back = replace(tally, current=tally.current - 1)
            raise RateLimited(self.message, given_back.retry_after(self.allowance))


@lru_cache(maxsize=8)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """AXIS_TRUSTED_PROXIES parsed; a wrong entry stops the process at its first request
    rather than silently trusting nothing (or everything)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in setting.split(",")
        if part.strip()
    )


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client behind `peer`: the right-most X-Forwarded-For hop that is not a trusted
    proxy, when the peer is one. Each proxy appends the address it was reached from, so
    everything left of the last untrusted hop was written by the client and is never used."""
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop[:MAX_ADDRESS_CHARS]
    # Only proxies on the way (or no header): the nearest one is the client we know.
    return hops[0][:MAX_ADDRESS_CHARS] if hops else peer


def client_of(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    settings: Settings = request.app.state.settings
    return client_address(
        peer,
        request.headers.getlist("x-forwarded-for"),
        trusted_networks(settings.trusted_proxies),
    )


def counts_of(request: Request) -> SharedCounts:
    """The app's shared counts, made on first use (from the app's thread sessions and
    namespace)."""
    counts: SharedCounts | None = getattr(request.app.state, "shared_counts", None)
    if counts is None:
        settings: Settings = request.app.state.settings
        counts = SharedCounts(
            request.app.state.thread_sessions,
            settings.rate_count_namespace,
            # Long enough for the longest window and the one before it.
            keep_seconds=2
            * max(
                settings.lookup_window_seconds,
                settings.rate_window_seconds,
                settings.login_window_seconds,
                settings.anonymous_post_window_seconds,
            ),
        )
        request.app.state.shared_counts = counts
    return counts


def limiter_of(request: Request) -> RateLimiter:
    """Wrong receipt codes per client address."""
    settings: Settings = request.app.state.settings
    return RateLimiter(
        counts_of(request), "lookup", settings.lookup_max_failures, settings.lookup_window_seconds
    )
