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

from db.engine import make_engine

T = TypeVar("T")

# Threads, and connections, of one API process: a few are as fast as many (a PostgreSQL
# connection costs a server process). More than one on SQLite too: a read (who is calling)
# must not queue behind a write that waits for the file's lock while a worker holds it.
THREADS = 6


class ThreadSessions:
    def __init__(self, url: str, threads: int = THREADS) -> None:
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
