"""Every HTTP request counted and timed, by route template, method and status: the template
(`/api/v1/directives/{directive_id}`), never the raw path, which carries ids and, for a one-click
link, a secret."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
# Any other method string would make a new series per invented method.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

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
