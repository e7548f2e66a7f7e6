"""The API's SQLite pool keeps the connections a burst opened: the next burst finds them open
instead of opening a file, a thread and the pragmas again for each request past the first ten."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event, text

from db.engine import make_async_engine

BURST = 25


async def test_a_second_burst_opens_no_new_sqlite_connection(tmp_path: Path) -> None:
    engine = make_async_engine(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=10, max_overflow=20)
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda connection, _: opened.append(connection))
    release = asyncio.Event()
    all_in = asyncio.Event()
    holding: list[int] = []

    async def hold() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            holding.append(1)
            if len(holding) == BURST:
                all_in.set()
            await release.wait()

    try:
        for _ in range(2):
            release.clear()
            all_in.clear()
            holding.clear()
            holders = [asyncio.create_task(hold()) for _ in range(BURST)]
            # Every one of the burst holds a connection at once before any lets go.
            await asyncio.wait_for(all_in.wait(), 30)
            release.set()
            await asyncio.gather(*holders)
        # 25 at once, twice: 25 connections opened in all, not 25 and then 15 more.
        assert len(opened) == BURST
        assert engine.sync_engine.pool.checkedin() == BURST  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
