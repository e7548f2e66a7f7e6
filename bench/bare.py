"""The raw ceiling the product is measured against, on the same server and database: a
trivial workflow with one update and its worker, and a bare FastAPI endpoint that returns the
same rows as the product's assignment list with no authentication, schemas or Temporal.

    python -m bench.bare worker        # a worker for the trivial workflow
    uvicorn --factory bench.bare:create_app"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from temporalio.client import Client
from temporalio.worker import Worker

from bench.trivial import TrivialWorkflow

BARE_TASK_QUEUE = "bench-bare"


async def run_worker() -> None:
    client = await Client.connect(os.environ["AXIS_TEMPORAL_ADDRESS"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=BARE_TASK_QUEUE, workflows=[TrivialWorkflow]):
        await stop.wait()


def create_app() -> FastAPI:
    # Imported here: the worker side of this module needs no database.
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
