"""Traces, with OpenTelemetry: off unless the standard OTEL_ variables name an exporter.

    OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 python worker.py

The API's server spans (one per request, named by route template), the Temporal client's calls
and the worker's workflows and activities (Temporal's `TracingInterceptor`) share one trace, so
an issued directive can be followed from `POST /api/v1/directives` through its fan-out to every
commune's assignment and notification. When tracing is off nothing is installed: no interceptor
on any client, no middleware on the app, no span built anywhere.

One provider per process, installed by `configure` (the API at app creation, the worker at
start) and read by `client_interceptors` and `instrument_app`. It is kept here rather than as
OpenTelemetry's global provider, which can be set only once per process: a test installs one
with an in-memory exporter and removes it again with `uninstall`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span
from temporalio.client import Interceptor

if TYPE_CHECKING:
    from fastapi import FastAPI

API_SERVICE = "steering-axis-api"
WORKER_SERVICE = "steering-axis-worker"
TRACER_NAME = "steering-axis"
# The variables that switch tracing on: an exporter named, or an OTLP endpoint given (the
# exporter then defaults to OTLP, as the OpenTelemetry specification has it).
EXPORTER_VARIABLE = "OTEL_TRACES_EXPORTER"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Only the HTTP exporter ships (gRPC would add grpcio): a collector asked for gRPC is refused at
# start rather than sent spans it cannot read.
PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
# The API's server spans leave out ASGI's `receive` and `send` spans: three spans per request
# where one says what an operator needs (route, status, duration).
HTTP_SPANS_LEFT_OUT: list[Literal["receive", "send"]] = ["receive", "send"]
# Attributes of a server span that hold the request's path, its URL or its query string (old
# and new semantic conventions): a one-click link or a setup link carries its secret there.
REQUEST_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full", "url.query")

log = logging.getLogger("axis.tracing")
_installed: TracerProvider | None = None


class TracingSettingError(ValueError):
    pass


def exporter_from_env(environ: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The exporter the OTEL_ variables ask for, or None when they ask for none. `otlp` sends
    over HTTP/protobuf (port 4318); the OTLP exporter reads its endpoint, headers and timeout
    from the same variables itself."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    names = [n.strip().lower() for n in env.get(EXPORTER_VARIABLE, "").split(",") if n.strip()]
    if not names:
        names = ["otlp"] if any(env.get(v, "").strip() for v in ENDPOINT_VARIABLES) else []
    names = [n for n in names if n != "none"]
    if not names:
        return None
    if len(names) > 1:
        raise TracingSettingError(f"{EXPORTER_VARIABLE}: one exporter at a time, not {names}")
    if names[0] == "console":
        return ConsoleSpanExporter()
    if names[0] == "otlp":
        for variable in PROTOCOL_VARIABLES:
            if env.get(variable, "http/protobuf").strip() != "http/protobuf":
                raise TracingSettingError(
                    f"{variable}={env[variable]!r}: this product sends OTLP as 'http/protobuf'"
                )
        # Imported here: the OTLP exporter pulls in protobuf and requests, which a process
        # without tracing has no use for.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise TracingSettingError(
        f"{EXPORTER_VARIABLE}={names[0]!r}: this product sends traces to 'otlp' or 'console'"
    )


def configure(service_name: str, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install this process's tracer provider and return it, or return None and install nothing
    when tracing is off. `exporter` (tests) gets every span as it ends; one from the OTEL_
    variables gets them in batches, off the request's path. OTEL_SERVICE_NAME, when set, names
    the service instead of `service_name`. A provider already installed is kept."""
    global _installed
    if _installed is not None:
        return _installed
    processor: SimpleSpanProcessor | BatchSpanProcessor
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    else:
        from_env = exporter_from_env()
        if from_env is None:
            return None
        processor = BatchSpanProcessor(from_env)
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over these defaults.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(processor)
    _installed = provider
    log.info("tracing on: %s sends spans as %s", type(processor).__name__, service_name)
    return provider


def installed() -> TracerProvider | None:
    return _installed


def uninstall() -> None:
    """Flush and remove the installed provider (tests, and a process that stops)."""
    global _installed
    if _installed is not None:
        _installed.shutdown()
    _installed = None


def client_interceptors() -> list[Interceptor]:
    """What a Temporal client is connected with: the tracing interceptor when tracing is on,
    nothing otherwise. A worker built on that client takes the interceptor from it, for its
    workflows (in the sandbox, whose spans the interceptor makes outside it) and activities."""
    if _installed is None:
        return []
    # Imported here: the contrib module needs the SDK, and a process without tracing pays nothing.
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(_installed.get_tracer(TRACER_NAME))]


def instrument_app(
    app: FastAPI, redact: Callable[[str], str], service_name: str = API_SERVICE
) -> TracerProvider | None:
    """Give the app a server span per request when tracing is on (configuring it from the OTEL_
    variables if nothing is installed yet); leave it untouched otherwise. `redact` takes the
    secret out of a path (the app's own rule, passed in so that tracing knows nothing of it)."""
    provider = configure(service_name)
    if provider is None:
        return None
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        server_request_hook=partial(_redact_request, redact),
        exclude_spans=HTTP_SPANS_LEFT_OUT,
    )
    return provider


def _redact_request(redact: Callable[[str], str], span: Span, scope: dict[str, Any]) -> None:
    """A path's secret (a one-click or setup link, the eSMS callback's) never reaches a span,
    nor does a query string: span names are route templates already, but the path and URL
    attributes are the request's own, and the hook runs just after they are set."""
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for name in REQUEST_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            kept = "" if name == "url.query" else redact(value.split("?", 1)[0])
            span.set_attribute(name, kept)
