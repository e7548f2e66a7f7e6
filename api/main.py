"""The API: FastAPI app with API v1, OpenAPI at /docs, and /healthz. `app.py` puts the pages
beside it on the app a process serves (`uvicorn app:app`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import logs
import tracing
from api import (
    access_log,
    errors,
    metrics,
    rate_limits,
    request_ids,
    security_headers,
)
from api.limits import BodyLimitMiddleware
from api.routes import (
    accounts,
    assignments,
    audit,
    callbacks,
    changes,
    directives,
    feedback,
    indicator_criteria,
    indicator_sheets,
    indicators,
    links,
    notifications,
    open311,
    plans,
    previews,
    procedures,
    public,
    recurring,
    reference,
    scores,
    tokens,
    units,
    webhooks,
)
from config import Settings, get_settings
from db.engine import make_async_engine
from db.models import ApiToken, Directive
from db.thread_sessions import ThreadSessions
from services.case_recovery import resume_unstarted_cases
from services.catchup import catch_up_if_behind, reconcile_recurring_schedules
from services.directives import start_directive
from services.principals import hash_token
from services.reconcile_counts import record_reconcile
from services.schemas import Health
from services.scoring import snapshot as score_snapshot
from serving.deps import TemporalGateway
from vocabulary.directives import DirectiveStatus
from vocabulary.roles import Role

log = logging.getLogger("axis.api")
# A directive stored but not started (Temporal was down when it was issued) is started by the
# reconciler after this long; USE_EXISTING makes a start of a running one harmless.
RESUME_AFTER = timedelta(seconds=30)
RECONCILE_EVERY_SECONDS = 30
SNAPSHOT_MINUTE = 5


async def ensure_admin_token(sessions: async_sessionmaker[AsyncSession], token: str) -> None:
    async with sessions() as session:
        digest = hash_token(token)
        if await session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest)):
            return
        session.add(
            ApiToken(
                name="admin (AXIS_ADMIN_TOKEN)",
                role=Role.STEERING_OFFICE.value,
                token_hash=digest,
                created_at=datetime.now(UTC),
            )
        )
        await session.commit()


async def resume_issuing_directives(app: FastAPI) -> int:
    """Start the workflow of every directive stuck in `issuing`; returns how many it tried."""
    settings: Settings = app.state.settings
    cutoff = datetime.now(UTC) - RESUME_AFTER
    async with app.state.sessions() as session:
        stuck = list(
            await session.scalars(
                select(Directive).where(
                    Directive.status == DirectiveStatus.ISSUING.value, Directive.issued_at < cutoff
                )
            )
        )
        if not stuck:
            return 0
        client = await app.state.temporal.get()
        for directive in stuck:
            await start_directive(client, settings, directive)
    return len(stuck)


async def _reconcile(app: FastAPI) -> None:
    # A run is counted once it has finished: a reconciler that keeps failing shows as runs that
    # stop growing.
    try:
        resumed = await resume_issuing_directives(app)
        record_reconcile("directives", {"stuck_issuing": resumed})
        started = await resume_unstarted_cases(app)
        record_reconcile("cases", {"unstarted": started})
        # Counted by the job itself ("recurring"), as at start.
        await reconcile_recurring_schedules(app, only_pending=True)
    except Exception:
        log.exception("reconciliation failed; it runs again shortly")


async def take_daily_snapshot(app: FastAPI) -> int:
    """Every commune's scorecard for the current month, once per day: the unique key (day,
    period, commune, rules) makes a second run, or the run of another API process, store
    nothing."""
    now = datetime.now(UTC)
    try:
        async with app.state.sessions() as session:
            stored: int = await session.run_sync(lambda s: score_snapshot(s, now))
            await session.commit()
        return stored
    except Exception:
        log.exception("score snapshot failed; it runs again at the next hour")
        return 0


def add_snapshot_job(scheduler: AsyncIOScheduler, app: FastAPI) -> None:
    # Every hour: a process that was down at the first run of the day still takes the day's
    # snapshot, and the unique key keeps one per day.
    scheduler.add_job(
        take_daily_snapshot,
        "cron",
        minute=SNAPSHOT_MINUTE,
        timezone="Asia/Ho_Chi_Minh",
        args=[app],
        id="score-snapshot",
        max_instances=1,
        coalesce=True,
    )


def create_api(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine: AsyncEngine = make_async_engine(settings.resolved_database_url)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # Who is calling and their rate counts, on every request: a transaction each, whole in
        # a thread (db/thread_sessions.py).
        thread_sessions = ThreadSessions(settings.resolved_database_url)
        app.state.thread_sessions = thread_sessions
        app.state.temporal = TemporalGateway(
            settings.resolved_temporal_address, settings.temporal_namespace
        )
        if settings.admin_token:
            await ensure_admin_token(app.state.sessions, settings.admin_token)
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            _reconcile, "interval", seconds=RECONCILE_EVERY_SECONDS, args=[app], max_instances=1
        )
        add_snapshot_job(scheduler, app)
        # Once, now: a read model restored from a backup is brought up to the workflows.
        scheduler.add_job(catch_up_if_behind, args=[app], id="catch-up", max_instances=1)
        app.state.scheduler = scheduler
        scheduler.start()
        try:
            yield
        finally:
            scheduler.shutdown(wait=False)
            await asyncio.to_thread(thread_sessions.close)
            await engine.dispose()

    app = FastAPI(
        title="Steering Axis",
        version="1.0",
        description="Directives of the provincial steering office as durable processes: "
        "assignments to each commune, acknowledgements, reports, reminders and escalations.",
        lifespan=lifespan,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        larger_under=(
            # A report from the pages carries its evidence files;
            (
                "/inbox/",
                settings.max_upload_files * settings.max_upload_bytes + settings.max_body_bytes,
            ),
            # a plan's tasks come as the office's spreadsheet.
            ("/api/v1/plans/", settings.max_upload_bytes + settings.max_body_bytes),
            # and so do a group's indicators.
            ("/api/v1/indicators/import", settings.max_upload_bytes + settings.max_body_bytes),
        ),
    )
    if settings.log_format == "json":
        logs.configure_json()
    access_log.install()
    security_headers.install(app)
    rate_limits.install(app, settings)
    errors.install(app)
    tracing.instrument_app(app, access_log.redact)
    request_ids.install(app)
    # Last: the outermost middleware, so a request another middleware answers is counted too.
    metrics.install(app)

    @app.get(
        "/healthz",
        tags=["health"],
        responses={
            200: {"model": Health, "description": "The database and Temporal both answer"},
            503: {"model": Health, "description": "What does not answer"},
        },
    )
    async def healthz(request: Request) -> JSONResponse:
        """200 when the database and Temporal both answer; 503 with what is wrong otherwise."""
        database = temporal = "ok"
        try:
            async with request.app.state.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as e:
            database = f"error: {type(e).__name__}"
        try:
            client = await request.app.state.temporal.get()
            await client.service_client.check_health()
        except Exception as e:
            temporal = f"error: {getattr(e, 'detail', None) or type(e).__name__}"
        healthy = database == "ok" and temporal == "ok"
        metrics.note_health(request.app, database == "ok", temporal == "ok")
        body: dict[str, Any] = Health(
            status="ok" if healthy else "degraded", database=database, temporal=temporal
        ).model_dump()
        return JSONResponse(body, status_code=200 if healthy else 503)

    v1 = APIRouter(prefix="/api/v1")
    v1.include_router(previews.router)
    v1.include_router(callbacks.router)
    for module in (reference, tokens, directives, assignments, notifications):
        v1.include_router(module.router)
    v1.include_router(units.router)
    v1.include_router(plans.router)
    v1.include_router(indicator_sheets.router)
    v1.include_router(indicator_criteria.router)
    v1.include_router(indicators.router)
    v1.include_router(webhooks.router)
    for module in (accounts, audit):
        v1.include_router(module.router)
    for module in (scores, changes, recurring):
        v1.include_router(module.router)
    v1.include_router(assignments.inbox)
    for router in (procedures.catalogue, procedures.router, feedback.router, open311.router):
        v1.include_router(router)
    v1.include_router(public.router)
    app.include_router(v1)
    app.include_router(public.pages)
    app.include_router(links.router)
    return app
