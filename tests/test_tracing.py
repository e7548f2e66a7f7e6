"""Traces: one trace from `POST /api/v1/directives` through the directive's workflow, its
activities, the fan-out's assignment workflows and the issue notices; and nothing at all when
no OTEL_ variable asks for traces."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

import tracing
from app import create_app
from config import Settings
from serving.deps import TemporalGateway
from tests.api.test_directives_api import eventually, issue, notifications
from tests.conftest import PUBLIC_URL, ApiClient, running_worker, temporal_address
from worker import connect

COMMUNES = ["24121", "24133"]


@pytest.fixture
async def traced(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[tuple[ApiClient, InMemorySpanExporter]]:
    """The `api` fixture with tracing on: the in-memory exporter installed through
    `tracing.configure`, the worker on a client of its own connected as the worker process
    connects (the session's shared client carries no interceptor), the app instrumented at
    creation and its Temporal gateway connecting with the interceptor."""
    # An app made under OTEL_ variables of the developer's shell may have installed one.
    tracing.uninstall()
    exporter = InMemorySpanExporter()
    tracing.configure("steering-axis-test", exporter)
    try:
        admin = f"admin-{uuid.uuid4().hex}"
        settings = Settings(
            database_url=database_url,
            temporal_address=temporal_address(local_env),
            task_queue=task_queue,
            admin_token=admin,
            public_url=PUBLIC_URL,
            rate_count_namespace=task_queue,
        )
        # The worker's own connect, as `python worker.py` does: the fan-out's client is this one.
        worker_client = await connect(settings, attempts=1)
        app = create_app(settings)
        async with (
            running_worker(worker_client, engine, task_queue, executor),
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://axis.test", timeout=60
            ) as http,
        ):
            yield ApiClient(http, admin, local_env.client), exporter
    finally:
        tracing.uninstall()


def ancestry(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """The span's name and its ancestors', up to a root (or to a parent this process never
    saw, marked "?")."""
    names = [span.name]
    while span.parent is not None:
        parent = by_id.get(span.parent.span_id)
        if parent is None:
            names.append("?")
            break
        span = parent
        names.append(span.name)
    return names


ISSUE = "POST /api/v1/directives"
# Everything the issue of a directive to two communes leaves in its trace, once both issue
# notices are recorded: the API's request, its start of the directive and its wait for the
# plan; the directive's run, its three activities (planned, fanned out, noticed) on both sides;
# the fan-out's start of each assignment and each assignment's run.
EXPECTED_SPANS = {
    ISSUE: 1,
    "StartWorkflow:Directive": 1,
    "StartWorkflowUpdate:wait_for_plan": 1,
    "RunWorkflow:Directive": 1,
    "HandleUpdate:wait_for_plan": 1,
    "StartActivity:plan_directive": 1,
    "RunActivity:plan_directive": 1,
    "StartActivity:start_assignments": 1,
    "RunActivity:start_assignments": 1,
    "StartActivity:record_notifications": 1,
    "RunActivity:record_notifications": 1,
    "StartWorkflow:Assignment": 2,
    "RunWorkflow:Assignment": 2,
}


async def test_one_trace_runs_from_the_request_to_the_notices(
    traced: tuple[ApiClient, InMemorySpanExporter],
) -> None:
    api, exporter = traced

    directive = await issue(api, COMMUNES)

    async def notices_recorded() -> None:
        found = await notifications(api, directive_id=directive["id"], kind="issued")
        assert found["count"] == 2, found["count"]

    await eventually(notices_recorded)
    (request,) = [s for s in exporter.get_finished_spans() if s.name == ISSUE]
    assert request.context is not None
    trace_id = request.context.trace_id

    # A span ends when its call returns, a moment after its rows are written: wait for them.
    async def trace_complete() -> list[ReadableSpan]:
        spans = [
            s
            for s in exporter.get_finished_spans()
            if s.context is not None and s.context.trace_id == trace_id
        ]
        assert Counter(s.name for s in spans) == EXPECTED_SPANS
        return spans

    spans = await eventually(trace_complete)
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    assert request.parent is None
    assert dict(request.attributes or {}).items() >= {
        ("http.route", "/api/v1/directives"),
        ("http.status_code", 201),
    }
    directive_id = f"directive-{directive['id']}"
    start = ["StartWorkflow:Directive", ISSUE]
    assert Counter(tuple(ancestry(s, by_id)) for s in spans) == {
        (ISSUE,): 1,
        tuple(start): 1,
        ("StartWorkflowUpdate:wait_for_plan", ISSUE): 1,
        ("RunWorkflow:Directive", *start): 1,
        ("HandleUpdate:wait_for_plan", *start): 1,
        ("StartActivity:plan_directive", *start): 1,
        ("RunActivity:plan_directive", "StartActivity:plan_directive", *start): 1,
        ("StartActivity:start_assignments", *start): 1,
        ("RunActivity:start_assignments", "StartActivity:start_assignments", *start): 1,
        ("StartActivity:record_notifications", *start): 1,
        ("RunActivity:record_notifications", "StartActivity:record_notifications", *start): 1,
        (
            "StartWorkflow:Assignment",
            "RunActivity:start_assignments",
            "StartActivity:start_assignments",
            *start,
        ): 2,
        (
            "RunWorkflow:Assignment",
            "StartWorkflow:Assignment",
            "RunActivity:start_assignments",
            "StartActivity:start_assignments",
            *start,
        ): 2,
    }
    assert {
        (s.name, (s.attributes or {}).get("temporalWorkflowID"))
        for s in spans
        if s.name.endswith(":Assignment")
    } == {
        (name, f"{directive_id}/commune-{code}")
        for name in ("StartWorkflow:Assignment", "RunWorkflow:Assignment")
        for code in COMMUNES
    }
    assert {
        (s.attributes or {}).get("temporalWorkflowID")
        for s in spans
        if s.name != ISSUE and not s.name.endswith(":Assignment")
    } == {directive_id}
    # The polls for the notices are requests of their own, each its own trace.
    polls = [s for s in exporter.get_finished_spans() if s.name == "GET /api/v1/notifications"]
    assert polls
    assert {p.context.trace_id for p in polls if p.context} & {trace_id} == set()


async def test_a_secret_in_a_path_or_query_never_reaches_a_span(
    traced: tuple[ApiClient, InMemorySpanExporter],
) -> None:
    api, exporter = traced
    secret = f"link-secret-{uuid.uuid4().hex}"

    answer = await api.http.get(f"/a/{secret}", params={"t": secret})

    # A made-up link is refused as invalid; its request is traced all the same.
    assert answer.status_code == 400, answer.text
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /a/{token}"
    attributes = dict(span.attributes or {})
    assert attributes["http.target"] == "/a/…"
    assert attributes["http.url"] == "http://axis.test/a/…"
    assert secret not in repr(attributes)


@pytest.mark.parametrize(
    ("variables", "exporter"),
    [
        ({}, None),
        ({"OTEL_SERVICE_NAME": "axis"}, None),
        ({"OTEL_TRACES_EXPORTER": "none"}, None),
        ({"OTEL_TRACES_EXPORTER": "console"}, ConsoleSpanExporter),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, OTLPSpanExporter),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, OTLPSpanExporter),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"},
            OTLPSpanExporter,
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, None),
    ],
)
def test_the_otel_variables_choose_the_exporter(
    variables: dict[str, str], exporter: type | None
) -> None:
    chosen = tracing.exporter_from_env(variables)
    assert type(chosen) is exporter if exporter else chosen is None


@pytest.mark.parametrize(
    ("variables", "refused"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER='zipkin'"),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, "OTEL_TRACES_EXPORTER: one exporter"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            },
            "OTEL_EXPORTER_OTLP_PROTOCOL='grpc'",
        ),
    ],
)
def test_an_exporter_the_product_does_not_ship_is_refused(
    variables: dict[str, str], refused: str
) -> None:
    with pytest.raises(tracing.TracingSettingError) as raised:
        tracing.exporter_from_env(variables)
    assert str(raised.value).startswith(refused), raised.value


async def test_without_otel_variables_nothing_is_installed(
    monkeypatch: pytest.MonkeyPatch, local_env: WorkflowEnvironment, database_url: str
) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    tracing.uninstall()

    app = create_app(Settings(database_url=database_url))
    gateway = TemporalGateway(temporal_address(local_env), "default")
    client = await gateway.get()

    assert tracing.configure(tracing.WORKER_SERVICE) is None
    assert tracing.installed() is None
    assert tracing.client_interceptors() == []
    assert client.config()["interceptors"] == []
    layer: object = app.build_middleware_stack()
    layers = []
    while layer is not None:
        layers.append(type(layer).__name__)
        layer = getattr(layer, "app", None)
    assert OpenTelemetryMiddleware.__name__ not in layers
    assert len(layers) > 3, layers
