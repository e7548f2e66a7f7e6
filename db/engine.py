"""Engines for the two kinds of caller: activities use a synchronous engine in worker threads;
the API uses an async one. Both come from the same URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Writers wait for the SQLite lock instead of failing: 102 assignments record at once.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# The connections of a synchronous engine unless its caller sizes it; the worker sizes its own
# from AXIS_ACTIVITY_CONCURRENCY (config.WorkerCapacity).
DEFAULT_CONNECTIONS = 30
# Of those, the ones kept open while idle; the others close when returned. Every worker, API and
# tool process of an installation shares PostgreSQL's max_connections (100 by default).
IDLE_CONNECTIONS = 10


def sync_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername == "sqlite+aiosqlite":
        u = u.set(drivername="sqlite")
    return u.render_as_string(hide_password=False)


def async_url(url: str) -> str:
    u = make_url(sync_url(url))
    if u.drivername == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    return u.render_as_string(hide_password=False)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, connections: int = DEFAULT_CONNECTIONS) -> Engine:
    """At most `connections` at once; a caller past them waits for one (30 s, then an error)."""
    url = sync_url(url)
    kept = min(connections, IDLE_CONNECTIONS)
    pool: dict[str, Any] = {"pool_size": kept, "max_overflow": connections - kept}
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):
            # SQLAlchemy gives an in-memory database one connection per thread: nothing to size.
            pool = {}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def make_async_engine(url: str, pool_size: int = 10, max_overflow: int = 20) -> AsyncEngine:
    """At most `pool_size + max_overflow` connections at once. PostgreSQL's beyond `pool_size`
    close when returned (they count against its max_connections); a SQLite file's all stay
    open: an overflow connection closed after each burst is opened again by the next (a
    thread, the file, the pragmas), and 102 leaders acknowledging at once paid that on most
    requests."""
    url = async_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=pool_size + max_overflow,
            max_overflow=0,
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
    )


def is_sqlite(url: str) -> bool:
    return make_url(sync_url(url)).get_backend_name() == "sqlite"
