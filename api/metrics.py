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
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import current_user
from config import Settings
from db.models import (
    Assignment,
    DeadLetter,
    Delivery,
    Directive,
    Dossier,
    Feedback,
    Notification,
    OutboxEntry,
)
from vocabulary.cases import DOSSIER_DONE, DossierStatus, FeedbackStatus
from vocabulary.delivery import DeliveryState
from vocabulary.directives import (
    ANSWERED_STATUSES,
    CLOSED_STATUSES,
    AssignmentStatus,
    NotificationKind,
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
UNMATCHED = "unmatched"
# The classic text format every Prometheus (2.x as Debian ships it, and 3.x) parses;
# prometheus-client's CONTENT_TYPE_LATEST (1.0.0) is not announced to older servers.
EXPOSITION_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Any other method string would make a new series per invented method.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
RECONCILE_JOBS = ("directives", "cases")

# Process-wide, as Prometheus expects of a counter: one series per API process. Each app's
# registry adds them beside its own read-model figures.
HTTP_REQUESTS = Counter(
    "axis_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
    registry=None,
)
HTTP_DURATION = Histogram(
    "axis_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, by route template and method.",
    ["route", "method"],
    registry=None,
)
RECONCILER_RUNS = Counter(
    "axis_reconciler_runs", "Runs of a reconciliation job.", ["job"], registry=None
)
RECONCILER_REPAIRS = Counter(
    "axis_reconciler_repairs",
    "What the reconciliation jobs repaired, by job and kind of repair.",
    ["job", "kind"],
    registry=None,
)


def record_reconcile(job: str, repairs: dict[str, int]) -> None:
    """Count one run of a reconciliation job and what it repaired, by kind (a kind with 0 still
    makes its series, so a rule sees 0 rather than nothing)."""
    RECONCILER_RUNS.labels(job).inc()
    for kind, count in repairs.items():
        RECONCILER_REPAIRS.labels(job, kind).inc(count)


# ---- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    regex: re.Pattern[str]
    methods: frozenset[str] | None
    template: str


def route_templates(app: Any) -> list[_Template]:
    """Every route of the app with its full template, in the router's order. FastAPI keeps an
    included router's routes with their own path (`/communes`) and matches the prefix
    separately, so the route a request leaves in its scope does not give the template: the
    effective routes do (older FastAPI copied them into `app.routes`, prefix included)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers
        routes: Iterable[Any] = app.routes
    else:
        routes = iter_route_contexts(app.routes)
    found = []
    for route in routes:
        regex, template = getattr(route, "path_regex", None), getattr(route, "path_format", None)
        if regex is None or not template:
            continue
        methods = getattr(route, "methods", None)
        found.append(_Template(regex, frozenset(methods) if methods else None, template))
    return found


def match_template(templates: list[_Template], path: str, method: str) -> str:
    """The template of the route the router picks: the first that matches path and method, else
    the first that matches the path (405); UNMATCHED when none does."""
    partial = None
    for candidate in templates:
        if candidate.regex.match(path):
            if candidate.methods is None or method in candidate.methods:
                return candidate.template
            partial = partial or candidate.template
    return partial or UNMATCHED


class RequestMetrics:
    """Counts every HTTP request and times it to the last byte of the answer. A request that
    raises counts as 500, which is what the server error middleware around it answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Built at the first request, once every route is in place.
        self._templates: list[_Template] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = 500

        async def send_counting(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            if self._templates is None:
                self._templates = route_templates(scope["app"])
            # The path as the router sees it: without a root_path a proxy may put in front.
            route = match_template(self._templates, get_route_path(scope), scope["method"])
            method = scope["method"] if scope["method"] in METHODS else "other"
            HTTP_REQUESTS.labels(route, method, str(answered)).inc()
            HTTP_DURATION.labels(route, method).observe(time.perf_counter() - started)


# ---- the read model ------------------------------------------------------------------------

UNANSWERED = [s.value for s in AssignmentStatus if s not in ANSWERED_STATUSES]
OPEN = [s.value for s in AssignmentStatus if s not in CLOSED_STATUSES]
# A dossier waiting for the applicant's supplement has its clock stopped: not past due.
DOSSIER_RUNNING = [
    s.value
    for s in DossierStatus
    if s not in DOSSIER_DONE and s != DossierStatus.SUPPLEMENT_REQUESTED
]
FEEDBACK_WAITING = [FeedbackStatus.RECEIVED.value, FeedbackStatus.ROUTED.value]


@dataclass(frozen=True)
class ReadModelFigures:
    """The read model's figures at one moment."""

    assignments: dict[tuple[str, str], int]
    overdue: int
    escalations: dict[int, int]
    messages: dict[str, int]
    dead_letters: int
    unconfirmed_sends: int
    oldest_queued_message_age_seconds: float
    dossiers_past_due: int
    feedback_past_due: int
    timers_late_seconds: float


def _seconds_since(now: datetime, moment: datetime | None) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


async def read_figures(session: AsyncSession, now: datetime) -> ReadModelFigures:
    """Every figure from a handful of aggregates: nothing here grows with the rows but the
    per-directive groups of the late-timer figure (see `timers_late_seconds`)."""
    unanswered = Assignment.status.in_(UNANSWERED)
    scalars = (
        await session.execute(
            select(
                select(func.count()).where(unanswered, Assignment.deadline < now).scalar_subquery(),
                select(func.count()).select_from(DeadLetter).scalar_subquery(),
                select(func.count())
                .where(OutboxEntry.status == DeliveryState.UNCONFIRMED.value)
                .scalar_subquery(),
                select(func.min(Delivery.updated_at))
                .where(Delivery.state == DeliveryState.QUEUED.value)
                .scalar_subquery(),
                select(func.count())
                .where(Dossier.status.in_(DOSSIER_RUNNING), Dossier.due_at < now)
                .scalar_subquery(),
                select(func.count())
                .where(Feedback.status.in_(FEEDBACK_WAITING), Feedback.answer_due_at < now)
                .scalar_subquery(),
            )
        )
    ).one()
    overdue, dead_letters, unconfirmed, oldest_queued, dossiers, feedback = scalars
    assignments = {
        (row_status, timeliness): count
        for row_status, timeliness, count in await session.execute(
            select(Assignment.status, Assignment.timeliness, func.count()).group_by(
                Assignment.status, Assignment.timeliness
            )
        )
    }
    escalations = {
        int(level): count
        for level, count in await session.execute(
            select(Assignment.escalation_level, func.count())
            .where(Assignment.status.in_(OPEN))
            .group_by(Assignment.escalation_level)
        )
    }
    messages = {
        state: count
        for state, count in await session.execute(
            select(Delivery.state, func.count()).group_by(Delivery.state)
        )
    }
    return ReadModelFigures(
        assignments=assignments,
        overdue=overdue,
        escalations=escalations,
        messages=messages,
        dead_letters=dead_letters,
        unconfirmed_sends=unconfirmed,
        oldest_queued_message_age_seconds=_seconds_since(now, oldest_queued),
        dossiers_past_due=dossiers,
        feedback_past_due=feedback,
        timers_late_seconds=await timers_late_seconds(session, now),
    )


async def timers_late_seconds(session: AsyncSession, now: datetime) -> float:
    """How late, at most, is a timed step of an assignment that the read model shows due and not
    done: 0 when none is. The assignment workflow records each of these steps when it fires, so
    one that stays unrecorded past its time means a timer that did not fire (no worker, a stuck
    task). Three steps are checked, for assignments still waiting for a report:

    - the deadline: the workflow marks the assignment overdue (`timeliness`) at its deadline;
    - the first reminder after the deadline (the policy's negative offset nearest to 0): an
      `overdue` notification is recorded for the commune at or after the current deadline;
    - the next escalation (`escalation_level` + 1 … in the policy): the workflow raises the level
      at the deadline plus the step's `after_seconds`.

    The reminder check is lenient: an `overdue` notice from before an extension that landed after
    the new deadline counts, so it can miss a late reminder but never invents one. Reminders
    before the deadline and acknowledge-by reminders leave no trace the read model could check
    without the workflow's own rules about when a deadline was set, so they are not counted."""
    unanswered = Assignment.status.in_(UNANSWERED)
    latest_due: list[datetime] = []
    deadline_missed = await session.scalar(
        select(func.min(Assignment.deadline)).where(
            unanswered,
            Assignment.timeliness == Timeliness.WITHIN_DEADLINE.value,
            Assignment.deadline < now,
        )
    )
    if deadline_missed is not None:
        latest_due.append(deadline_missed)
    by_level = (
        await session.execute(
            select(
                Assignment.directive_id, Assignment.escalation_level, func.min(Assignment.deadline)
            )
            .where(unanswered, Assignment.deadline < now)
            .group_by(Assignment.directive_id, Assignment.escalation_level)
        )
    ).all()
    no_overdue_notice = ~exists().where(
        Notification.directive_id == Assignment.directive_id,
        Notification.commune_code == Assignment.commune_code,
        Notification.kind == NotificationKind.OVERDUE.value,
        Notification.created_at >= Assignment.deadline,
    )
    unreminded = (
        await session.execute(
            select(Assignment.directive_id, func.min(Assignment.deadline))
            .where(and_(unanswered, Assignment.deadline < now, no_overdue_notice))
            .group_by(Assignment.directive_id)
        )
    ).all()
    directive_ids = {row[0] for row in by_level} | {row[0] for row in unreminded}
    policies: dict[int, dict[str, Any]] = {}
    if directive_ids:
        policies = {
            directive_id: policy
            for directive_id, policy in await session.execute(
                select(Directive.id, Directive.policy).where(Directive.id.in_(directive_ids))
            )
        }
    for directive_id, level, deadline in by_level:
        steps = policies.get(directive_id, {}).get("escalation", [])
        latest_due.extend(deadline + timedelta(seconds=s["after_seconds"]) for s in steps[level:])
    for directive_id, deadline in unreminded:
        after = [
            o for o in policies.get(directive_id, {}).get("reminder_offsets_seconds", []) if o < 0
        ]
        if after:
            latest_due.append(deadline + timedelta(seconds=-max(after)))
    past = [now - due for due in latest_due if due < now]
    return max(past).total_seconds() if past else 0.0


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
    async with request.app.state.sessions() as session:
        try:
            user = await current_user(session, credentials)
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
