"""Log lines of every process. By default (`AXIS_LOG_FORMAT=text`) each process keeps the
readable lines it always wrote; with `AXIS_LOG_FORMAT=json` the API (uvicorn's loggers and the
product's `axis.*` loggers) and the worker (the product's and temporalio's) write one JSON object
per line, for a log collector:

    {"ts": "2025-03-01T02:03:04.567Z", "level": "INFO", "logger": "uvicorn.access",
     "msg": "...", "request_id": "...", "directive_id": 42, "commune_code": "24133"}

Only the fields named here are ever written (an allow-list, not a deny-list): a log call that
passes a citizen's `email` or a `password` in `extra` writes nothing of it, whatever its name.
Secrets in request paths are redacted before formatting by api/access_log.py's filter."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from temporalio import activity
from temporalio.runtime import LogForwardingConfig, LoggingConfig

# The request id a proxy or a client sent is kept when it cannot smuggle anything into a log
# line or a header: a short token of safe characters. Anything else is replaced.
SAFE_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The fields a JSON line may carry besides ts, level, logger, msg and exc.
CONTEXT_FIELDS = ("request_id", "directive_id", "commune_code", "workflow_id", "activity")
# The ids workflows.types makes: `directive-42` and `directive-42/commune-24133`.
DIRECTIVE_WORKFLOW_ID = re.compile(r"directive-(\d+)(?:/commune-([0-9A-Za-z]+))?")
# Loggers that uvicorn gives handlers of their own (its coloured text); in JSON they write
# through the root's handler instead.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Libraries whose INFO lines the root's INFO level would let through, kept to warnings:
# apscheduler writes two lines every 30 s for the reconciler's run; httpx writes each call's full
# URL, query string included, where a provider's key could one day sit.
QUIET_LOGGERS = ("apscheduler", "httpx", "httpcore")
# The Temporal SDK's core (Rust) writes its own lines to stderr unless they are forwarded.
CORE_LOGGER = "temporalio.core"

request_id: ContextVar[str | None] = ContextVar("axis_request_id", default=None)
# The matched route's path parameters, as Starlette stores them in the request's scope. The
# scope itself is kept: routing fills in `path_params` after the middleware has run, on the same
# dict, so a line logged by a route (or the access line) finds them there.
request_scope: ContextVar[Mapping[str, Any] | None] = ContextVar("axis_request_scope", default=None)


def safe_token(value: object) -> str | None:
    return value if isinstance(value, str) and SAFE_TOKEN.fullmatch(value) else None


def _directive_id(value: object) -> int | None:
    # Path parameters are strings until FastAPI converts them; a line says 42, not "42".
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


class AddContext(logging.Filter):
    """Puts the ids of the work in hand on each record: the request's id and route parameters
    (API), the activity's workflow and type (inside an activity), or the workflow's id from the
    `temporal_workflow` / `temporal_activity` extra temporalio's own loggers attach. A value a
    log call passed explicitly in `extra` is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        found: dict[str, object] = {"request_id": request_id.get()}
        scope = request_scope.get()
        if scope is not None:
            params = scope.get("path_params") or {}
            found["directive_id"] = _directive_id(params.get("directive_id"))
            found["commune_code"] = safe_token(params.get("commune_code"))
        if activity.in_activity():
            info = activity.info()
            found["workflow_id"] = info.workflow_id
            found["activity"] = info.activity_type
        else:
            details = getattr(record, "temporal_activity", None)
            if isinstance(details, Mapping):
                found["workflow_id"] = details.get("workflow_id")
                found["activity"] = details.get("activity_type")
            details = getattr(record, "temporal_workflow", None)
            if isinstance(details, Mapping):
                found["workflow_id"] = details.get("workflow_id")
        workflow_id = getattr(record, "workflow_id", None) or found.get("workflow_id")
        if isinstance(workflow_id, str) and (ids := DIRECTIVE_WORKFLOW_ID.fullmatch(workflow_id)):
            if found.get("directive_id") is None:
                found["directive_id"] = int(ids[1])
            if ids[2] and found.get("commune_code") is None:
                found["commune_code"] = ids[2]
        for field, value in found.items():
            if value is not None and getattr(record, field, None) is None:
                setattr(record, field, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601, UTC), level, logger, msg, the CONTEXT_FIELDS a
    record has, and the exception's traceback as `exc`. Nothing else of the record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if isinstance(value, str | int) and not isinstance(value, bool):
                line[field] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii off: Vietnamese stays readable; json.dumps escapes newlines, so a
        # traceback never splits a line.
        return json.dumps(line, ensure_ascii=False, default=str)


class JsonLinesHandler(logging.StreamHandler[IO[str]]):
    """The root's handler in JSON mode; its own class so configuring twice replaces it."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.setFormatter(JsonFormatter())
        self.addFilter(AddContext())


def configure_json(stream: IO[str] | None = None, level: int = logging.INFO) -> JsonLinesHandler:
    """Every logger of the process writes JSON lines through one handler on the root logger.

    Called at the API's app creation, which uvicorn does after installing its own logging
    config (so its default formatters are not put back over this), and at the worker's start.
    The filter and formatter sit on the handler, so records that propagate from any logger
    pass through them; uvicorn's levels (`--log-level`) are left as uvicorn set them."""
    handler = JsonLinesHandler(stream)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, JsonLinesHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for own in list(logger.handlers):
            logger.removeHandler(own)
        logger.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def core_logging(log_format: str) -> LoggingConfig:
    """The `logging` of the worker's temporalio Runtime (TelemetryConfig): in JSON, the SDK
    core's warnings ("failed to poll", a workflow task that failed) are forwarded to the
    `temporalio.core` logger and written as JSON lines like the rest; in text, the SDK's
    default (its own compact lines on stderr). The levels are the SDK's default's."""
    if log_format != "json":
        return LoggingConfig.default
    return LoggingConfig(
        filter=LoggingConfig.default.filter,
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )
