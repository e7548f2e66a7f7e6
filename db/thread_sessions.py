"""Short transactions run whole in a thread of their own pool, on a synchronous engine: the
hot paths of the API (who is calling, their rate count, an acknowledgement's read and write).

The async engine's SQLite driver (aiosqlite) crosses to its connection's thread and back for
every cursor, statement, fetch and commit, some fifteen crossings for an acknowledgement's four
transactions; here each transaction crosses once. Measured on 102 concurrent acknowledgements
(README, "Where an acknowledgement's time goes"), that crossing was the largest part of the
API's CPU time. A transaction never waits for another one here, so a pool as large as the
threads never runs dry."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import is_sqlite, make_engine

T = TypeVar("T")

# Threads, and connections, of one API process on PostgreSQL, where a connection costs a
# server process: a few are as fast as many.
THREADS = 6


class ThreadSessions:
    def __init__(self, url: str, threads: int = THREADS) -> None:
        if is_sqlite(url):
            # SQLite writes one transaction at a time. Two threads of one process writing at
            # once meet its lock, and the one refused sleeps in SQLite's busy handler (1 ms,
            # then 2, 5, 10, … ms) though the lock is free again within a millisecond.
            threads = 1
        self.engine: Engine = make_engine(url, connections=threads)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="db")

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in one transaction, committed when it returns and rolled back when
        it raises, in a thread. The caller's context (its trace, its request id) goes along."""
        context = contextvars.copy_context()
        call = partial(context.run, self._transaction, work)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self._sessions() as session, session.begin():
            return work(session)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self.engine.dispose()
