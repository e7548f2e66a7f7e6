"""The limiter every rate limit is made of, counted in the database: an allowance per key that
runs out exactly at the threshold, one count for every process on the database, old counts
evicted oldest first, and the client's address decided behind trusted proxies only."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select

from app import create_app
from config import Settings
from db.models import RateCount
from db.thread_sessions import ThreadSessions
from serving.lookup_limits import RateLimited, RateLimiter, client_address, trusted_networks
from serving.shared_counts import SharedCounts, Tally

# Inside a 600 s window (a multiple of 600 and of 60), 100 s after it began.
NOW = 1_800_000_100.0
WINDOW = 600


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def sessions_for(url: str) -> AsyncIterator[ThreadSessions]:
    sessions = ThreadSessions(url)
    yield sessions
    sessions.close()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[ThreadSessions]:
    async for made in sessions_for(database_url):
        yield made


@pytest.fixture
async def scratch_sessions(
    scratch_database_url: str,
) -> AsyncIterator[ThreadSessions]:
    async for made in sessions_for(scratch_database_url):
        yield made


def counts(sessions: ThreadSessions, clock: Clock, **options: int) -> SharedCounts:
    # A namespace per test: the session's database is shared by every test.
    return SharedCounts(sessions, f"t-{uuid.uuid4().hex[:8]}", clock=clock, **options)


async def test_each_client_has_its_own_allowance(
    sessions: ThreadSessions,
) -> None:
    limiter = RateLimiter(counts(sessions, Clock(NOW)), "lookup", 3, WINDOW)
    for _ in range(3):
        await limiter.check("10.0.0.1")
        await limiter.fail("10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limiter.check("10.0.0.1")
    assert refused.value.status_code == 429
    # 3 failures at 100 s into the window: their weight falls under 3 when the next window
    # is (1 - 2/3) of the way through: 500 s + 200 s.
    assert refused.value.headers == {"Retry-After": "700"}
    await limiter.check("10.0.0.2")


async def test_failures_leave_the_window(sessions: ThreadSessions) -> None:
    clock = Clock(NOW)
    limiter = RateLimiter(counts(sessions, clock), "lookup", 1, WINDOW)
    await limiter.fail("10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limiter.check("10.0.0.1")
    assert refused.value.headers == {"Retry-After": "1100"}
    clock.now += 1099
    with pytest.raises(RateLimited):
        await limiter.check("10.0.0.1")
    clock.now += 1
    await limiter.check("10.0.0.1")


async def test_two_processes_on_one_database_share_one_count(
    sessions: ThreadSessions, database_url: str
) -> None:
    clock = Clock(NOW)
    first = counts(sessions, clock)
    # A second process: its own engine and its own SharedCounts, the same namespace.
    async for other_sessions in sessions_for(database_url):
        second = SharedCounts(other_sessions, first.namespace, clock=clock)
        one = RateLimiter(first, "tokens", 5, 60, "too many")
        two = RateLimiter(second, "tokens", 5, 60, "too many")
        for limiter in (one, two, one, two, one):
            await limiter.take("token:7")
        with pytest.raises(RateLimited) as refused:
            await two.take("token:7")
        # Refused requests use no allowance: the count stays at 5.
        assert (await first.read("tokens", "token:7", 60)).current == 5
        assert refused.value.headers == {"Retry-After": "32"}


async def test_a_burst_across_a_window_edge_gets_the_allowance_once(
    sessions: ThreadSessions,
) -> None:
    clock = Clock(NOW + 499)  # one second before the 600 s window ends
    limiter = RateLimiter(counts(sessions, clock), "anonymous-post", 10, WINDOW, "too many")
    for _ in range(5):
        await limiter.take("203.0.113.9")
    clock.now += 2  # one second into the next window
    for _ in range(5):
        await limiter.take("203.0.113.9")
    with pytest.raises(RateLimited):
        await limiter.take("203.0.113.9")


def test_the_estimate_weighs_the_previous_window_by_what_is_left_of_it() -> None:
    assert Tally(current=2, previous=6, elapsed=300, window_seconds=600).estimate == 5
    assert Tally(current=2, previous=6, elapsed=301, window_seconds=600).estimate == 5
    assert Tally(current=2, previous=6, elapsed=400, window_seconds=600).estimate == 4
    # Allowance 5: the previous window's share must drop to 2, at 2/3 of this window.
    assert Tally(current=2, previous=6, elapsed=300, window_seconds=600).retry_after(5) == 100


async def test_eviction_keeps_the_newest_counts(
    scratch_sessions: ThreadSessions,
) -> None:
    clock, window = Clock(NOW), 10
    shared = counts(scratch_sessions, clock, max_rows=3)
    await scratch_sessions.run(lambda session: session.execute(delete(RateCount)))
    # Five addresses, one per 10 s window, the oldest first, the newest counted twice: 50 s
    # in all, so the prune at the first count (at most once a minute) is the only one so far.
    for i in range(5):
        for _ in range(1 if i < 4 else 2):
            await shared.add("lookup", f"10.0.0.{i}", window)
        clock.now += window
    assert await rows_of(scratch_sessions) == [
        ("10.0.0.0", 1), ("10.0.0.1", 1), ("10.0.0.2", 1), ("10.0.0.3", 1), ("10.0.0.4", 2),
    ]  # fmt: skip
    assert await shared.prune() == 2
    assert await rows_of(scratch_sessions) == [("10.0.0.2", 1), ("10.0.0.3", 1), ("10.0.0.4", 2)]
    # A minute after that prune the next count prunes again, by itself.
    clock.now += 60
    await shared.add("lookup", "10.0.0.5", window)
    assert await rows_of(scratch_sessions) == [("10.0.0.3", 1), ("10.0.0.4", 2), ("10.0.0.5", 1)]


async def rows_of(sessions: ThreadSessions) -> list[tuple[str, int]]:
    found = await sessions.run(
        lambda session: session.execute(
            select(RateCount.key, RateCount.count).order_by(RateCount.window_start, RateCount.key)
        ).all()
    )
    return [(key.split("|")[1], count) for key, count in found]


async def test_within_one_window_eviction_takes_the_smallest_counts_first(
    scratch_sessions: ThreadSessions,
) -> None:
    clock = Clock(NOW)
    shared = counts(scratch_sessions, clock, max_rows=2)
    await scratch_sessions.run(lambda session: session.execute(delete(RateCount)))
    for _ in range(4):
        await shared.add("lookup", "198.51.100.1", WINDOW)  # the flooder being refused
    for address in ("198.51.100.2", "198.51.100.3", "198.51.100.4"):
        await shared.add("lookup", address, WINDOW)
    await shared.add("lookup", "198.51.100.4", WINDOW)
    assert await shared.prune() == 2
    assert (await shared.read("lookup", "198.51.100.1", WINDOW)).current == 4
    assert (await shared.read("lookup", "198.51.100.4", WINDOW)).current == 2


PROXIES = trusted_networks("10.0.0.0/8, 192.0.2.1")


def test_without_trusted_proxies_the_socket_peer_is_the_client() -> None:
    assert client_address("10.0.0.5", ["203.0.113.7"], ()) == "10.0.0.5"


def test_an_untrusted_peer_cannot_pose_as_another_address() -> None:
    assert client_address("198.51.100.9", ["203.0.113.7"], PROXIES) == "198.51.100.9"


def test_behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() -> None:
    # The client wrote "1.2.3.4"; the load balancer appended the address it was reached from.
    assert client_address("10.0.0.5", ["1.2.3.4, 203.0.113.7"], PROXIES) == "203.0.113.7"
    # Two proxies on the way, the header split over two lines.
    assert client_address("10.0.0.5", ["1.2.3.4, 203.0.113.8", "192.0.2.1"], PROXIES) == (
        "203.0.113.8"
    )
    # Only proxies on the way: the farthest one is what is known.
    assert client_address("10.0.0.5", ["10.1.1.1, 10.2.2.2"], PROXIES) == "10.1.1.1"
    assert client_address("10.0.0.5", [], PROXIES) == "10.0.0.5"


def test_a_wrong_trusted_proxy_setting_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="AXIS_TRUSTED_PROXIES must list addresses or networks"):
        create_app(Settings(trusted_proxies="10.0.0.0/8, the-load-balancer"))
    assert trusted_networks("") == ()
    assert trusted_networks("2001:db8::/32") == (ipaddress.ip_network("2001:db8::/32"),)
