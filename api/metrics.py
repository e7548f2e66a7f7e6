"""What the operator's Prometheus reads from the API: `GET /metrics` in the text exposition
format, for a steering-office token or the bearer in AXIS_METRICS_TOKEN.

- Requests: `axis_http_requests_total{route,method,status}` and
  `axis_http_request_duration_seconds{route,method}`. The route is the matched route's template
  (`/api/v1/directives/{directive_id}`), never the raw path: a path carries ids, and a one-click
  link's path carries a secret.
- The read model's figures (`axis_assignments`, `axis_messages`, `axis_dead_letters` …), read by
  a few SQL aggregates at most once per REFRESH_SECONDS per process, whoever scrapes.
- The reconciler's runs and repairs, and whether the database and Temporal answered the API.

No label carries a person, a citizen or free text: statuses, states, levels and route templates
only, each from a closed set."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from api.deps import current_user
from api.request_metrics import HTTP_DURATION, HTTP_REQUESTS, RequestMetrics
from config import Settings
from db.operator_figures import ReadModelFigures, read_figures
from services.reconcile_counts import RECONCILE_JOBS, RECONCILER_REPAIRS, RECONCILER_RUNS
from vocabulary.delivery import DeliveryState
from vocabulary.directives import (
    AssignmentStatus,
    Timeliness,
)
from vocabulary.roles import Role

log = logging.getLogger("axis.metrics")

# Prometheus scrapes every 15 s by default; several scrapers (two Prometheus servers, a person
# with curl) still cost the database one read per window.
REFRESH_SECONDS = 15.0
# A health check of Temporal that hangs must not hold a scrape past Prometheus's own 10 s
# scrape timeout.
TEMPORAL_CHECK_SECONDS = 5.0
# The same for a database that accepts the connection and then hangs (a lock, a full disk).
DATABASE_READ_SECONDS = 4.0
# The classic text format every Prometheus (2.x as Debian ships it, and 3.x) parses;
# prometheus-client's CONTENT_TYPE_LATEST (1.0.0) is not announced to older servers.
EXPOSITION_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# ---- the collector -------------------------------------------------------------------------


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled(
    name: str, documentation: str, labels: list[str], values: Iterable[tuple[list[str], float]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family


class OperatorGauges(Collector):
    """The read model's figures and what the API last saw of its database and Temporal, read
    at most once per REFRESH_SECONDS. `clock` (monotonic seconds) and `now` are the tests' to
    replace; `reads` counts the reads of the database."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.clock: Callable[[], float] = time.monotonic
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.figures: ReadModelFigures | None = None
        self.database_up = False
        self.temporal_up = False
        self.reads = 0
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def note_health(self, database: bool, temporal: bool) -> None:
        self.database_up, self.temporal_up = database, temporal

    def fresh(self) -> bool:
        return self._read_at is not None and self.clock() - self._read_at < REFRESH_SECONDS

    async def refresh(self) -> None:
        """Read the figures again unless they are younger than REFRESH_SECONDS. A database that
        does not answer drops them (a stale figure would hide what is happening) and sets
        axis_database_up to 0 until the next window."""
        if self.fresh():
            return
        async with self._lock:
            if self.fresh():
                return
            self.reads += 1
            try:
                async with asyncio.timeout(DATABASE_READ_SECONDS):
                    async with self.app.state.sessions() as session:
                        self.figures = await read_figures(session, self.now())
                self.database_up = True
            except Exception as e:
                log.warning("metrics: the read model did not answer (%s)", type(e).__name__)
                self.figures, self.database_up = None, False
            self.temporal_up = await self._temporal_answers()
            self._read_at = self.clock()

    async def _temporal_answers(self) -> bool:
        try:
            async with asyncio.timeout(TEMPORAL_CHECK_SECONDS):
                client = await self.app.state.temporal.get()
                await client.service_client.check_health()
        except Exception:
            return False
        return True

    def collect(self) -> Iterable[Metric]:
        yield _gauge(
            "axis_database_up", "1 when the read model answered the API.", self.database_up
        )
        yield _gauge("axis_temporal_up", "1 when Temporal answered the API.", self.temporal_up)
        f = self.figures
        if f is None:
            return
        yield _labelled(
            "axis_assignments",
            "Assignments by status and timeliness.",
            ["status", "timeliness"],
            (
                ([s.value, t.value], f.assignments.get((s.value, t.value), 0))
                for s in AssignmentStatus
                for t in Timeliness
            ),
        )
        yield _gauge(
            "axis_assignments_overdue",
            "Assignments past their deadline and still waiting for a report.",
            f.overdue,
        )
        levels = range(max([0, *f.escalations]) + 1)
        yield _labelled(
            "axis_escalations",
            "Open assignments by escalation level (0: not escalated).",
            ["level"],
            (([str(level)], f.escalations.get(level, 0)) for level in levels),
        )
        yield _labelled(
            "axis_messages",
            "Messages by delivery state.",
            ["state"],
            (([s.value], f.messages.get(s.value, 0)) for s in DeliveryState),
        )
        yield _gauge("axis_dead_letters", "Messages no channel could deliver.", f.dead_letters)
        yield _gauge(
            "axis_unconfirmed_sends",
            "Sends whose outcome the provider never confirmed (never sent again blindly).",
            f.unconfirmed_sends,
        )
        yield _gauge(
            "axis_oldest_queued_message_age_seconds",
            "Age of the oldest message still queued for delivery (0 when none is).",
            f.oldest_queued_message_age_seconds,
        )
        yield _gauge(
            "axis_dossiers_past_due",
            "Dossiers being processed past their due time (paused ones excluded).",
            f.dossiers_past_due,
        )
        yield _gauge(
            "axis_feedback_past_due",
            "Feedback not yet answered past its answer-due time.",
            f.feedback_past_due,
        )
        yield _gauge(
            "axis_timers_late_seconds",
            "The largest lateness of a deadline mark, after-deadline reminder or escalation "
            "that the read model shows due and not recorded (0 when none).",
            f.timers_late_seconds,
        )


# ---- the endpoint --------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False)
router = APIRouter()


def _refused() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "the metrics need the metrics token or a steering-office token",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The bearer in AXIS_METRICS_TOKEN (compared in constant time, no database read: a scrape
    costs nothing when the database is down), or a steering-office token. Anything else is
    refused with 401, a valid token of another role too: no other role reads operations."""
    if credentials is None or not credentials.credentials:
        raise _refused()
    settings: Settings = request.app.state.settings
    given = credentials.credentials.encode()
    if settings.metrics_token and hmac.compare_digest(given, settings.metrics_token.encode()):
        return
    try:
        user = await current_user(request.app.state.thread_sessions, credentials)
    except HTTPException as e:
        raise _refused() from e
    if user.role != Role.STEERING_OFFICE:
        raise _refused()


# An operator's endpoint, not part of the API the office and the communes program against: it
# stays out of the OpenAPI document, as /healthz's callers would expect of a scrape target.
@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_reader)])
async def metrics(request: Request) -> Response:
    gauges: OperatorGauges = request.app.state.metrics
    await gauges.refresh()
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=EXPOSITION_TYPE)


def install(app: FastAPI) -> None:
    """The request middleware, GET /metrics, and this app's registry: the process-wide counters
    beside this app's gauges."""
    app.add_middleware(RequestMetrics)
    gauges = OperatorGauges(app)
    registry = CollectorRegistry()
    for collector in (HTTP_REQUESTS, HTTP_DURATION, RECONCILER_RUNS, RECONCILER_REPAIRS, gauges):
        registry.register(collector)
    for job in RECONCILE_JOBS:
        RECONCILER_RUNS.labels(job)
    app.state.metrics = gauges
    app.state.metrics_registry = registry
    app.include_router(router)


def note_health(app: FastAPI, database: bool, temporal: bool) -> None:
    """What /healthz just saw, for axis_database_up and axis_temporal_up."""
    gauges: OperatorGauges | None = getattr(app.state, "metrics", None)
    if gauges is not None:
        gauges.note_health(database, temporal)
