"""The worker: runs the directive and assignment workflows and every activity.

    python worker.py

Reads its settings from AXIS_* variables (see config.py); several workers may run against the
same Temporal server and database."""

from __future__ import annotations

import asyncio
import compileall
import logging
import signal
import socket
import threading
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import logs
import sandbox_code
import tracing
from activities.channels.webhook import AllowedHosts, parse_allowed_hosts
from activities.delivery import (
    SWEEP_EVERY_SECONDS,
    DeliveryActivities,
    DeliveryConfig,
    delivery_config,
    delivery_queue,
    sweep_stranded,
)
from activities.fanout import FanOutActivities
from activities.indicator_periods import IndicatorPeriodActivities
from activities.notifications import NotificationActivities
from activities.obligations import ObligationActivities
from activities.plan_task_periods import PlanTaskPeriodActivities
from activities.procedures import ProcedureActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from activities.webhook_events import WebhookActivities
from config import DEFAULT_ACTIVITY_CONCURRENCY, Settings, WorkerCapacity, get_settings
from db.engine import make_engine
from temporal_client import connect
from vocabulary.webhooks import webhook_queue
from workflows.assignment import AssignmentWorkflow
from workflows.delivery import DeliveryWorkflow, DigestWorkflow
from workflows.directive import DirectiveWorkflow
from workflows.dossier import DossierWorkflow
from workflows.feedback import FeedbackWorkflow
from workflows.indicator_period import IndicatorPeriodWorkflow
from workflows.obligation import ObligationPeriodWorkflow
from workflows.plan_task_period import PlanTaskPeriodWorkflow
from workflows.webhooks import WebhookSubscriptionWorkflow

# The threads of a worker at the default capacity, for the scripts that build an executor of
# their own (history recording, benchmarks); the worker sizes its own from its settings.
ACTIVITY_THREADS = WorkerCapacity(DEFAULT_ACTIVITY_CONCURRENCY).threads
DELIVERY_WORKFLOWS = [DeliveryWorkflow, DigestWorkflow]
CORE_WORKFLOWS = [
    DirectiveWorkflow,
    AssignmentWorkflow,
    DossierWorkflow,
    FeedbackWorkflow,
    ObligationPeriodWorkflow,
    IndicatorPeriodWorkflow,
    PlanTaskPeriodWorkflow,
]
WEBHOOK_WORKFLOWS = [WebhookSubscriptionWorkflow]
WORKFLOWS = [*CORE_WORKFLOWS, *DELIVERY_WORKFLOWS, *WEBHOOK_WORKFLOWS]
# A subscription's watch of the change feed is an asynchronous activity that waits most of its
# life: the subscriptions run on a task queue of their own, whose slots are many and cost
# nothing while they wait, so watches never hold the slots acknowledgements and fan-outs need.
WEBHOOK_ACTIVITIES = 200
# Messages go out from a task queue of their own: a wave of sends never queues up in front of
# an acknowledgement's update.
# A stopping worker lets the sends in flight finish and record their outcome: an SMTP send cut
# off halfway would otherwise stay unconfirmed and never be sent again.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
# Reading the SDK's metrics on loopback takes milliseconds; Prometheus gives a scrape 10 s.
SDK_METRICS_SECONDS = 5
# Workflows run in the SDK's sandbox with its default restrictions: every workflow run
# re-imports the workflow modules, so one run's module state never leaks into another's, and a
# call that would not replay (the wall clock, a file, the network) fails the workflow task
# instead of passing unnoticed. Only the standard library, temporalio and pydantic are passed
# through, as the SDK does by default; the workflows import no other third-party module. The
# workflow modules themselves pass through only their messages, the vocabulary (dataclasses,
# enums and constants: the converter and the workflow must see the same classes) and the
# timeline, the stateless clock three of them share, which they import under
# `imports_passed_through`. Tests build their workers with this runner too.
# Measured (bench/replay_speed.py): a 3,400-event directive history replays as fast as with the
# workflow modules passed through; each workflow run costs about 7 ms more, its fresh import.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default)
# The packages whose modules the sandbox imports afresh for each workflow run.
SANDBOXED_PACKAGES = ("workflows", "vocabulary")
# Each run's fresh import executes the one compiled copy of its module (sandbox_code.py).
sandbox_code.install(SANDBOXED_PACKAGES)
ROOT = Path(__file__).resolve().parent

log = logging.getLogger("axis.worker")


def build_worker(
    client: Client,
    engine: Engine,
    task_queue: str,
    public_url: str,
    executor: ThreadPoolExecutor,
    **options: object,
) -> Worker:
    """Options go to the Worker, but for `delivery` (a DeliveryConfig) and `capacity` (a
    WorkerCapacity), which default to what the AXIS_* settings configure. Delivery runs on this
    worker's task queue too, unless the config names a queue of its own (then
    `build_delivery_worker` serves it). A test that changes a workflow module's constant may
    pass a `workflow_runner` that passes that module through."""
    delivery = options.pop("delivery", None)
    assert delivery is None or isinstance(delivery, DeliveryConfig)
    if delivery is None:
        delivery = delivery_config(get_settings(), task_queue, engine)
    capacity = options.pop("capacity", None) or get_settings().worker_capacity
    assert isinstance(capacity, WorkerCapacity)
    if not delivery.task_queue or delivery.task_queue == task_queue:
        delivery.task_queue = task_queue
        own_queue = False
    else:
        own_queue = True
    records = RecordActivities(engine)
    notifications = NotificationActivities(engine, Renderer(), public_url, client, delivery)
    fan_out = FanOutActivities(client)
    procedures = ProcedureActivities(engine, Renderer(), public_url, client, delivery)
    obligations = ObligationActivities(engine)
    indicator_periods = IndicatorPeriodActivities(engine, client)
    task_periods = PlanTaskPeriodActivities(engine, client)
    options.setdefault("graceful_shutdown_timeout", GRACEFUL_SHUTDOWN)
    options.setdefault("workflow_runner", WORKFLOW_RUNNER)
    activities: list[Callable[..., Any]] = [
        records.plan_directive,
        records.record_assignment,
        records.record_assignments,
        records.record_amendment,
        records.set_directive_status,
        notifications.record_notifications,
        fan_out.start_assignments,
        fan_out.relay_change,
        procedures.record_dossier,
        procedures.dossier_resumed_due,
        procedures.dossier_appointment,
        procedures.record_case_notifications,
        procedures.route_feedback,
        procedures.record_feedback,
        obligations.open_obligation_period,
        obligations.close_obligation_period,
        indicator_periods.open_indicator_period,
        task_periods.open_plan_task_period,
    ]
    workflows: list[type] = list(CORE_WORKFLOWS)
    if not own_queue:
        activities += delivery_activities(engine, client, delivery)
        workflows += DELIVERY_WORKFLOWS
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        activity_executor=executor,
        max_concurrent_activities=capacity.activities_per_queue,
        **options,  # type: ignore[arg-type]
    )


def delivery_activities(
    engine: Engine, client: Client, delivery: DeliveryConfig
) -> list[Callable[..., Any]]:
    sending = DeliveryActivities(engine, client, delivery)
    return [
        sending.send_message,
        sending.set_delivery_state,
        sending.record_dead_letter,
        sending.join_digest,
    ]


def build_delivery_worker(
    client: Client,
    engine: Engine,
    executor: ThreadPoolExecutor,
    delivery: DeliveryConfig,
    capacity: WorkerCapacity | None = None,
) -> Worker:
    """The worker of delivery's own task queue: its workflows and activities only."""
    capacity = capacity or get_settings().worker_capacity
    return Worker(
        client,
        task_queue=delivery.task_queue,
        workflows=DELIVERY_WORKFLOWS,
        activities=delivery_activities(engine, client, delivery),
        activity_executor=executor,
        max_concurrent_activities=capacity.activities_per_queue,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_runner=WORKFLOW_RUNNER,
    )


def build_webhook_worker(
    client: Client,
    engine: Engine,
    task_queue: str,
    delivery: DeliveryConfig,
    webhook_hosts: AllowedHosts,
    **options: object,
) -> Worker:
    """The worker of the webhook subscriptions' own task queue (`webhook_queue(task_queue)`):
    their workflows and their three activities, all asynchronous. A pause's notice to the
    office goes out through `delivery`."""
    webhooks = WebhookActivities(engine, client, delivery, webhook_hosts)
    options.setdefault("graceful_shutdown_timeout", GRACEFUL_SHUTDOWN)
    options.setdefault("workflow_runner", WORKFLOW_RUNNER)
    return Worker(
        client,
        task_queue=webhook_queue(task_queue),
        workflows=WEBHOOK_WORKFLOWS,
        activities=[
            webhooks.next_webhook_events,
            webhooks.deliver_webhook_event,
            webhooks.pause_webhook_subscription,
        ],
        max_concurrent_activities=WEBHOOK_ACTIVITIES,
        **options,  # type: ignore[arg-type]
    )


def activity_executor(capacity: WorkerCapacity) -> ThreadPoolExecutor:
    """The threads both task queues' activities share: enough for every one of them at once."""
    return ThreadPoolExecutor(max_workers=capacity.threads, thread_name_prefix="activity")


def worker_engine(settings: Settings) -> Engine:
    """The worker's database engine: a connection for each of its threads."""
    return make_engine(
        settings.resolved_database_url, connections=settings.worker_capacity.database_connections
    )


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # A scrape every 15 s is not news.
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve_worker_metrics(port: int, sdk_url: str) -> WSGIServer:
    """Answer GET /metrics on `port` (every address) with the Temporal SDK's metrics, read
    from its own endpoint at `sdk_url`, followed by `axis_worker_up 1`. The SDK serves its
    Prometheus endpoint itself and prometheus-client cannot bind the same port, so the SDK's
    listens on loopback only and this one port answers with both, as one scrape target."""
    registry = CollectorRegistry()
    Gauge("axis_worker_up", "1 while this worker process runs.", registry=registry).set(1)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            with urllib.request.urlopen(sdk_url, timeout=SDK_METRICS_SECONDS) as answer:
                sdk = answer.read().rstrip(b"\n") + b"\n"
        except OSError as e:
            # Our own gauge still answers: a scrape shows the worker up without SDK figures.
            log.warning("the Temporal SDK's metrics did not answer (%s)", type(e).__name__)
            sdk = b""
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)])
        return [sdk + generate_latest(registry)]

    server = make_server("", port, app, _ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def worker_runtime(settings: Settings) -> Runtime | None:
    """The SDK runtime of the worker's client: its core's log lines as JSON with
    AXIS_LOG_FORMAT=json, and its metrics (workflow task and activity latencies, failures,
    schedule-to-start, sticky cache, slots, polls) on AXIS_WORKER_METRICS_PORT, durations in
    seconds. None: the SDK's default runtime will do."""
    port = settings.worker_metrics_port
    if port is None and settings.log_format != "json":
        return None
    metrics = None
    if port is not None:
        sdk_address = f"127.0.0.1:{free_loopback_port()}"
        metrics = PrometheusConfig(bind_address=sdk_address, durations_as_seconds=True)
    runtime = Runtime(
        telemetry=TelemetryConfig(logging=logs.core_logging(settings.log_format), metrics=metrics)
    )
    if port is not None:
        serve_worker_metrics(port, f"http://{sdk_address}/metrics")
        log.info("worker metrics on port %d", port)
    return runtime


async def sweep(
    client: Client, delivery: DeliveryConfig, engine: Engine, stop: asyncio.Event
) -> None:
    """Now and then, start the delivery of any message left queued without one."""
    while not stop.is_set():
        try:
            started = await sweep_stranded(client, delivery, engine)
            if started:
                log.info("started the delivery of %d stranded messages", started)
        except Exception:
            log.exception("the delivery sweep failed; it runs again shortly")
        try:
            await asyncio.wait_for(stop.wait(), SWEEP_EVERY_SECONDS)
        except TimeoutError:
            pass


def compile_workflow_modules() -> None:
    """Write the bytecode of the modules the sandbox imports for every workflow run. Without it
    (PYTHONDONTWRITEBYTECODE, a fresh checkout) each run compiles them from source again: half
    of what starting an assignment cost the worker (py-spy during a fan-out, bench/README). A
    tree that cannot be written is left as it is; the image compiles itself when built."""
    for package in SANDBOXED_PACKAGES:
        if not compileall.compile_dir(ROOT / package, quiet=2):
            log.warning("could not write the bytecode of %s: workflows start slower", package)


async def main() -> None:
    settings = get_settings()
    if settings.log_format == "json":
        logs.configure_json()
    else:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s"
        )
    tracing.configure(tracing.WORKER_SERVICE)
    compile_workflow_modules()
    capacity = settings.worker_capacity
    engine = worker_engine(settings)
    client = await connect(settings, runtime=worker_runtime(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    delivery = delivery_config(settings, delivery_queue(settings.task_queue), engine)
    with activity_executor(capacity) as executor:
        # The asynchronous activities' database work (asyncio.to_thread) and the sweep's run in
        # the same threads, which are sized for them; the event loop's own pool is far smaller.
        loop.set_default_executor(executor)
        worker = build_worker(
            client,
            engine,
            settings.task_queue,
            settings.public_url,
            executor,
            delivery=delivery,
            capacity=capacity,
        )
        sender = build_delivery_worker(client, engine, executor, delivery, capacity)
        subscriptions = build_webhook_worker(
            client,
            engine,
            settings.task_queue,
            delivery,
            parse_allowed_hosts(settings.webhook_allow_hosts),
        )
        log.info(
            "worker on task queues %s and %s at %s: %d activities each, %d threads, "
            "%d database connections",
            settings.task_queue,
            delivery.task_queue,
            settings.resolved_temporal_address,
            capacity.activities_per_queue,
            capacity.threads,
            capacity.database_connections,
        )
        async with worker, sender, subscriptions:
            sweeping = asyncio.create_task(sweep(client, delivery, engine, stop))
            await stop.wait()
            log.info("worker stopping")
            await sweeping
    engine.dispose()
    # The last batch of spans goes out before the process ends.
    tracing.uninstall()


if __name__ == "__main__":
    asyncio.run(main())
