"""The raw ceiling the product is measured against, on the same server and database: a
trivial workflow with one update, a reminder workflow that sleeps to its instant and records one
row (bench_reminders, in the product's database), their worker, and a bare FastAPI endpoint that
returns the same rows as the product's assignment list with no authentication, schemas or
Temporal.

    python -m bench.bare worker        # a worker for the bare workflows
    uvicorn --factory bench.bare:create_app"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from bench.reminder import RECORD_REMINDER, ReminderInput, ReminderWorkflow
from bench.trivial import TrivialWorkflow
from db.engine import make_engine
from db.models.base import UtcDateTime

BARE_TASK_QUEUE = "bench-bare"

# The bare reminders' rows: the instant each fell due and when its row was written, the same
# clock (the worker's) as the product's notifications.created_at.
BARE_METADATA = MetaData()
BENCH_REMINDERS = Table(
    "bench_reminders",
    BARE_METADATA,
    Column("id", Integer, primary_key=True),
    Column("batch", String(40), index=True),
    Column("name", String(80)),
    Column("due", UtcDateTime()),
    Column("recorded_at", UtcDateTime()),
)


class ReminderRecorder:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=RECORD_REMINDER)
    async def record(self, request: ReminderInput) -> None:
        # In a thread, as the product's activities write: the event loop keeps polling.
        await asyncio.to_thread(self._insert, request)

    def _insert(self, request: ReminderInput) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(BENCH_REMINDERS).values(
                    batch=request.batch,
                    name=request.name,
                    due=datetime.fromtimestamp(request.due, UTC),
                    recorded_at=datetime.now(UTC),
                )
            )


async def run_worker() -> None:
    client = await Client.connect(os.environ["AXIS_TEMPORAL_ADDRESS"])
    engine = make_engine(os.environ["AXIS_DATABASE_URL"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Worker(
            client,
            task_queue=BARE_TASK_QUEUE,
            workflows=[TrivialWorkflow, ReminderWorkflow],
            activities=[ReminderRecorder(engine).record],
        ):
            await stop.wait()
    finally:
        engine.dispose()


def create_app() -> FastAPI:
    # Imported here: the worker side of this module needs none of the product's tables.
    from db.engine import make_async_engine
    from db.models import Assignment, Commune, Directive

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = make_async_engine(os.environ["AXIS_DATABASE_URL"])
        yield
        await app.state.engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/bare/directives/{directive_id}")
    async def directive(directive_id: int) -> Response:
        async with app.state.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(Directive.__table__).where(Directive.id == directive_id)
                    )
                )
                .mappings()
                .one()
            )
        return JSONResponse(_plain(row))

    @app.get("/bare/directives/{directive_id}/assignments")
    async def assignments(directive_id: int) -> Response:
        async with app.state.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Assignment.__table__, Commune.name.label("commune_name"))
                    .join(Commune, Commune.code == Assignment.commune_code)
                    .where(Assignment.directive_id == directive_id)
                    .order_by(Assignment.commune_code)
                )
            ).mappings()
            data = [_plain(r) for r in rows]
        return JSONResponse({"data": data, "count": len(data)})

    return app


def _plain(row: Any) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


if __name__ == "__main__":
    if sys.argv[1:] != ["worker"]:
        sys.exit("usage: python -m bench.bare worker")
    asyncio.run(run_worker())
