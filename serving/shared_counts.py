"""Request counts shared by every API process through the database (`rate_counts`), so that
the two replicas of the compose file, or any number, give a client one allowance, not one each.

A count is kept per scope, key and fixed window (`window_start`, epoch seconds, a multiple of
the window). One statement increments it, `INSERT … ON CONFLICT DO UPDATE SET count = count + 1
RETURNING count`, so two processes counting at once never lose a count. A limit reads the
current and the previous window and weighs the previous by the part of it still inside the
sliding window: a burst at a window's edge does not get twice the allowance, and a client
refused is told (Retry-After) when the estimate falls back below the allowance.

Old windows are deleted at most once a minute per process; past `max_rows` rows the oldest go
first, so a flood of addresses evicts old counts, never the newest, and never all at once."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models import RateCount
from db.thread_sessions import ThreadSessions

PRUNE_EVERY_SECONDS = 60
# Rows kept at most after a prune: far above 102 communes' offices and a day of citizens, and
# still a small table (about 100 bytes a row).
MAX_ROWS = 100_000
# The columns' widths (db/models/): a longer key is stored as its digest.
MAX_SCOPE_CHARS = 32
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Tally:
    """A key's counts in the window now running and the one before, `elapsed` seconds into
    the current window."""

    current: int
    previous: int
    elapsed: float
    window_seconds: int

    @property
    def estimate(self) -> int:
        """Requests within the last `window_seconds`, taking the previous window's as spread
        evenly and rounding its share up: a burst that crosses a window's edge within seconds
        still counts whole, so the allowance holds exactly there too."""
        # Multiplied before dividing: 6 × (600 - 400) / 600 is exactly 2, not 2.0000000000000004.
        share = self.previous * (self.window_seconds - self.elapsed) / self.window_seconds
        return self.current + math.ceil(share)

    def retry_after(self, allowance: int) -> int:
        """Whole seconds until the estimate is below the allowance again, if nothing more is
        counted; at least 1. At most two windows: this window's count weighs on the next."""
        window, elapsed = self.window_seconds, self.elapsed
        if allowance <= 0:
            return window
        room = allowance - 1 - self.current
        if room >= 0:
            # The previous window's share must shrink to `room` within this window.
            wait = (
                window * (self.previous - room) / self.previous - elapsed if self.previous else 0.0
            )
        else:
            # This window's count becomes the previous one and must shrink in the next.
            wait = window - elapsed + window * (self.current - allowance + 1) / self.current
        return max(1, math.ceil(wait))


def _stored_key(namespace: str, key: str) -> str:
    full = f"{namespace}|{key}" if namespace else key
    if len(full) <= MAX_KEY_CHARS:
        return full
    return "sha256:" + hashlib.sha256(full.encode()).hexdigest()


class SharedCounts:
    """Counts in `rate_counts`, each call in a short transaction of its own, in a thread
    (db/thread_sessions.py): a count stays counted even when the request that made it fails
    and rolls its own work back, and counting never waits for a connection of the request's
    own pool, which a burst of requests can hold entirely."""

    def __init__(
        self,
        sessions: ThreadSessions,
        namespace: str = "",
        *,
        keep_seconds: int = 2 * 3600,
        max_rows: int = MAX_ROWS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self.namespace = namespace
        self.keep_seconds = keep_seconds
        self.max_rows = max_rows
        self.clock = clock
        self._pruned_at: float | None = None

    async def add(self, scope: str, key: str, window_seconds: int, amount: int = 1) -> Tally:
        """Count `amount` (negative to give back) for the key; the counts after it."""
        now = self.clock()
        start = int(now // window_seconds) * window_seconds
        stored = _stored_key(self.namespace, key)
        table = RateCount.__table__
        insert: Any = (
            postgresql.insert
            if self._sessions.engine.dialect.name == "postgresql"
            else sqlite.insert
        )
        # The previous window's count comes back with the new one: one statement, not two.
        previous_count = self._count_query(scope, stored, start - window_seconds)
        statement = (
            insert(table)
            .values(scope=scope[:MAX_SCOPE_CHARS], key=stored, window_start=start, count=amount)
            .on_conflict_do_update(
                index_elements=["scope", "key", "window_start"],
                set_={"count": table.c.count + amount},
            )
            .returning(table.c.count, previous_count.scalar_subquery())
        )
        current, previous = await self._sessions.run(
            lambda session: tuple(session.execute(statement).one())
        )
        current, previous = int(current), int(previous or 0)
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            await self.prune()
        return Tally(current, previous, now - start, window_seconds)

    async def give_back(self, scope: str, key: str, window_seconds: int) -> None:
        """Undo one count of the current window (a refused request uses no allowance)."""
        now = self.clock()
        start = int(now // window_seconds) * window_seconds
        statement = (
            update(RateCount)
            .where(
                RateCount.scope == scope[:MAX_SCOPE_CHARS],
                RateCount.key == _stored_key(self.namespace, key),
                RateCount.window_start == start,
                RateCount.count > 0,
            )
            .values(count=RateCount.count - 1)
        )
        await self._sessions.run(lambda session: session.execute(statement))

    async def read(self, scope: str, key: str, window_seconds: int) -> Tally:
        now = self.clock()
        start = int(now // window_seconds) * window_seconds
        stored = _stored_key(self.namespace, key)
        current_query = self._count_query(scope, stored, start)
        previous_query = self._count_query(scope, stored, start - window_seconds)
        current, previous = await self._sessions.run(
            lambda session: (session.scalar(current_query), session.scalar(previous_query))
        )
        return Tally(int(current or 0), int(previous or 0), now - start, window_seconds)

    @staticmethod
    def _count_query(scope: str, stored: str, start: int) -> Select[Any]:
        return select(RateCount.count).where(
            RateCount.scope == scope[:MAX_SCOPE_CHARS],
            RateCount.key == stored,
            RateCount.window_start == start,
        )

    async def prune(self) -> int:
        """Delete windows older than `keep_seconds`, then, past `max_rows` rows, the oldest
        rows until `max_rows` are left: older windows first and, within one window, the
        smallest counts first (a flood's many one-off addresses go before the address that
        is being refused). Every namespace's rows: an old window is useless to all of them."""
        now = self.clock()
        self._pruned_at = now
        return await self._sessions.run(lambda session: self._prune(session, now))

    def _prune(self, session: Session, now: float) -> int:
        expired = session.execute(
            delete(RateCount).where(RateCount.window_start < now - self.keep_seconds)
        )
        deleted = int(expired.rowcount or 0)  # type: ignore[attr-defined]
        rows = int(session.scalar(select(func.count()).select_from(RateCount)) or 0)
        if rows > self.max_rows:
            oldest = (
                select(RateCount.scope, RateCount.key, RateCount.window_start)
                .order_by(RateCount.window_start, RateCount.count)
                .limit(rows - self.max_rows)
            )
            evicted = session.execute(
                delete(RateCount).where(
                    tuple_(RateCount.scope, RateCount.key, RateCount.window_start).in_(oldest)
                )
            )
            deleted += int(evicted.rowcount or 0)  # type: ignore[attr-defined]
        return deleted
