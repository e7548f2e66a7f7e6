"""GET /metrics: who may read it, requests counted by route template, the read model's figures
(exact, from rows of a test's own and from a directive run by the real worker), the 15 s cache,
the health gauges and the reconciler's counters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

import api.main as api_main
from api.main import RESUME_AFTER, _reconcile
from api.metrics import REFRESH_SECONDS, OperatorGauges
from db.engine import make_async_engine, make_engine
from db.models import (
    Assignment,
    Commune,
    DeadLetter,
    Delivery,
    Directive,
    Dossier,
    Feedback,
    Notification,
    OutboxEntry,
    Procedure,
    policy_to_json,
)
from db.operator_figures import read_figures
from tests.api.test_directives_api import act, eventually, issue, opened
from tests.api.test_health_and_recovery import closed_port, serve
from tests.conftest import ApiClient, api_app, temporal_address
from tests.factories import store_directive
from vocabulary.directives import DirectivePolicy, DirectiveStatus, EscalationStep
from vocabulary.roles import Role

METRICS_TOKEN = "metrics-" + "x" * 40
COMMUNES = ["24121", "24133", "24175"]
NOW = datetime(2026, 3, 10, 5, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SEC = timedelta(seconds=1)
STATUSES = ("notified", "acknowledged", "reported", "returned", "completed", "cancelled")


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for one not exported yet (a counter before its first request)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@asynccontextmanager
async def metrics_app(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[tuple[ApiClient, FastAPI, FakeClock]]:
    async with api_app(
        local_env, database_url, engine, task_queue, executor, metrics_token=METRICS_TOKEN
    ) as (api, app):
        clock = FakeClock()
        app.state.metrics.clock = clock
        yield api, app, clock


async def scrape(api: ApiClient, token: str = METRICS_TOKEN) -> Samples:
    answer = await api.request("GET", "/metrics", token=token)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(answer.text)


# ---- who may read ----------------------------------------------------------------------------


async def test_metrics_answer_the_office_and_the_metrics_token_and_refuse_anyone_else(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    async with metrics_app(local_env, database_url, engine, task_queue, executor) as (api, *_):
        leader = await api.token("commune_leader", "24133")
        reader = await api.token("reader")
        refused = [
            (await api.http.get("/metrics")).status_code,
            (await api.request("GET", "/metrics", token="wrong-" + METRICS_TOKEN)).status_code,
            (await api.request("GET", "/metrics", token=METRICS_TOKEN[:-1])).status_code,
            (await api.request("GET", "/metrics", token=leader)).status_code,
            (await api.request("GET", "/metrics", token=reader)).status_code,
        ]
        by_token = await api.request("GET", "/metrics", token=METRICS_TOKEN)
        by_office = await api.request("GET", "/metrics")
        schema = (await api.http.get("/openapi.json")).json()
    assert refused == [401] * 5
    assert (by_token.status_code, by_office.status_code) == (200, 200)
    assert "axis_http_requests_total" in by_token.text
    # An operator's endpoint: outside the API's published document (and so its access matrix).
    assert "/metrics" not in schema["paths"]


async def test_without_a_metrics_token_only_the_office_reads_them(api: ApiClient) -> None:
    assert (await api.request("GET", "/metrics", token="anything")).status_code == 401
    assert (await api.request("GET", "/metrics")).status_code == 200


# ---- requests ------------------------------------------------------------------------------


async def test_requests_are_counted_by_route_template_method_and_status(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    communes = {"route": "/api/v1/communes", "method": "GET"}
    directive = {"route": "/api/v1/directives/{directive_id}", "method": "GET"}
    async with metrics_app(local_env, database_url, engine, task_queue, executor) as (api, *_):
        before = await scrape(api)
        for _ in range(3):
            assert (await api.request("GET", "/api/v1/communes")).status_code == 200
        assert (await api.request("GET", "/api/v1/directives/987654321")).status_code == 404
        assert (await api.http.get("/api/v1/communes")).status_code == 401
        assert (await api.http.get("/no/such/987654321")).status_code == 404
        assert (await api.http.request("BREW", "/api/v1/communes")).status_code == 405
        after = await scrape(api)
        text = (await api.request("GET", "/metrics", token=METRICS_TOKEN)).text

    def more(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert more("axis_http_requests_total", **communes, status="200") == 3.0
    assert more("axis_http_requests_total", **communes, status="401") == 1.0
    assert more("axis_http_requests_total", **directive, status="404") == 1.0
    assert more("axis_http_requests_total", route="unmatched", method="GET", status="404") == 1.0
    assert (
        more("axis_http_requests_total", route="/api/v1/communes", method="other", status="405")
        == 1.0
    )
    assert more("axis_http_request_duration_seconds_count", **communes) == 4.0
    assert more("axis_http_request_duration_seconds_count", **directive) == 1.0
    # The first scrape is counted by the second one.
    assert more("axis_http_requests_total", route="/metrics", method="GET", status="200") == 1.0
    # Ids never become labels.
    assert "987654321" not in text
    assert "BREW" not in text


# ---- the read model's figures ----------------------------------------------------------------


@pytest.fixture
def scratch(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


def _assignment(
    directive_id: int,
    commune: str,
    status: str,
    timeliness: str,
    deadline: datetime,
    escalation_level: int = 0,
) -> Assignment:
    return Assignment(
        directive_id=directive_id,
        commune_code=commune,
        issued_at=NOW - 10 * DAY,
        status=status,
        timeliness=timeliness,
        deadline=deadline,
        original_deadline=deadline,
        escalation_level=escalation_level,
        seq=1,
    )


def _overdue_notice(directive_id: int, commune: str, at: datetime) -> Notification:
    return Notification(
        idempotency_key=f"notify:{directive_id}:{commune}:overdue:{uuid.uuid4().hex}",
        directive_id=directive_id,
        commune_code=commune,
        kind="overdue",
        step="offset-86400s-d1",
        recipient="lanh-dao@example.invalid",
        recipient_role="commune_leader",
        channel="email",
        language="vi",
        subject="Quá hạn",
        body="Quá hạn",
        status="recorded",
        created_at=at,
    )


def _store_read_model(engine: Engine) -> tuple[int, list[str]]:
    """One directive (remind 1 day before and after the deadline; escalate 2 and 5 days after)
    with five assignments in known states, messages, sends, dossiers and feedback."""
    policy = DirectivePolicy(
        reminder_offsets_seconds=[86400, -86400],
        escalation=[
            EscalationStep(after_seconds=2 * 86400, to=Role.OFFICIAL_IN_CHARGE),
            EscalationStep(after_seconds=5 * 86400, to=Role.STEERING_OFFICE),
        ],
    )
    with Session(engine) as session, session.begin():
        c = list(session.scalars(select(Commune.code).order_by(Commune.code).limit(6)))
        directive = Directive(
            title="Kiểm tra",
            body="Báo cáo.",
            status=DirectiveStatus.ACTIVE.value,
            issued_at=NOW - 10 * DAY,
            issued_by="steering_office:test",
            deadline=NOW - 3 * DAY,
            communes=c,
            policy=policy_to_json(policy),
        )
        session.add(directive)
        session.flush()
        d = directive.id
        session.add_all(
            [
                # Overdue mark, after-deadline reminder and first escalation done; the second
                # is due in 2 days: nothing late.
                _assignment(d, c[0], "notified", "overdue", NOW - 3 * DAY, escalation_level=1),
                _overdue_notice(d, c[0], NOW - 2 * DAY),
                # The first escalation (deadline + 2 days) is 600 s late.
                _assignment(d, c[1], "acknowledged", "overdue", NOW - 2 * DAY - 600 * SEC),
                _overdue_notice(d, c[1], NOW - DAY),
                # The after-deadline reminder (deadline + 1 day) is 120 s late: the only overdue
                # notice is older than the current deadline.
                _assignment(d, c[2], "returned", "overdue", NOW - DAY - 120 * SEC),
                _overdue_notice(d, c[2], NOW - 5 * DAY),
                # The deadline passed 30 s ago and the assignment is not marked overdue yet.
                _assignment(d, c[3], "notified", "within_deadline", NOW - 30 * SEC),
                # Answered or closed: nothing is chased.
                _assignment(d, c[4], "reported", "overdue", NOW - 9 * DAY),
                _assignment(d, c[5], "completed", "on_time", NOW - 9 * DAY),
            ]
        )
        for key, state, age in [
            ("k1", "queued", 1200),
            ("k2", "queued", 300),
            ("k3", "sent", 9000),
            ("k4", "dead_lettered", 9000),
            ("k5", "no_channel", 9000),
        ]:
            session.add(Delivery(notification_key=key, state=state, updated_at=NOW - age * SEC))
        session.add(DeadLetter(notification_key="k4", reason="no channel answered"))
        for key, outbox_status in [("k3", "sent"), ("k6", "unconfirmed"), ("k7", "unconfirmed")]:
            session.add(
                OutboxEntry(
                    notification_key=key,
                    channel="email",
                    status=outbox_status,
                    idempotency_key=key,
                )
            )
        procedure = session.scalars(select(Procedure.code).limit(1)).one()
        for n, (dossier_status, due) in enumerate(
            [
                ("processing", NOW - HOUR),
                ("received", NOW - 2 * HOUR),
                ("supplement_requested", NOW - HOUR),
                ("result_ready", NOW - HOUR),
                ("processing", NOW + HOUR),
            ]
        ):
            session.add(
                Dossier(
                    receipt_code=f"HS-{n}-{uuid.uuid4().hex[:8]}",
                    procedure_code=procedure,
                    commune_code=c[0],
                    applicant_reference="Nguyễn Văn A",
                    received_at=NOW - 5 * DAY,
                    due_at=due,
                    status=dossier_status,
                    timeliness="within_limit",
                )
            )
        for n, (feedback_status, due) in enumerate(
            [
                ("received", NOW - HOUR),
                ("routed", NOW - DAY),
                ("answered", NOW - DAY),
                ("routed", NOW + DAY),
            ]
        ):
            session.add(
                Feedback(
                    receipt_code=f"PA-{n}-{uuid.uuid4().hex[:8]}",
                    description="Đèn đường hỏng",
                    status=feedback_status,
                    requested_at=NOW - 5 * DAY,
                    answer_due_at=due,
                )
            )
    return d, c


async def test_the_read_model_figures_are_exact(scratch: Engine, scratch_database_url: str) -> None:
    directive_id, c = _store_read_model(scratch)
    engine = make_async_engine(scratch_database_url)

    async def figures() -> Any:
        async with AsyncSession(engine) as session:
            return await read_figures(session, NOW)

    try:
        f = await figures()
        assert f.assignments == {
            ("notified", "overdue"): 1,
            ("acknowledged", "overdue"): 1,
            ("returned", "overdue"): 1,
            ("notified", "within_deadline"): 1,
            ("reported", "overdue"): 1,
            ("completed", "on_time"): 1,
        }
        assert f.overdue == 4
        assert f.escalations == {0: 4, 1: 1}
        assert f.messages == {"queued": 2, "sent": 1, "dead_lettered": 1, "no_channel": 1}
        assert (f.dead_letters, f.unconfirmed_sends) == (1, 2)
        assert f.oldest_queued_message_age_seconds == 1200.0
        assert (f.dossiers_past_due, f.feedback_past_due) == (2, 2)
        # The escalation 600 s late is the latest of the three late steps.
        assert f.timers_late_seconds == 600.0

        # Once each late step is recorded, the next one shows, down to none.
        with Session(scratch) as session, session.begin():
            session.execute(
                update(Assignment)
                .where(Assignment.directive_id == directive_id, Assignment.commune_code == c[1])
                .values(escalation_level=1)
            )
        assert (await figures()).timers_late_seconds == 120.0
        with Session(scratch) as session, session.begin():
            session.add(_overdue_notice(directive_id, c[2], NOW - 100 * SEC))
        assert (await figures()).timers_late_seconds == 30.0
        with Session(scratch) as session, session.begin():
            session.execute(
                update(Assignment)
                .where(Assignment.directive_id == directive_id, Assignment.commune_code == c[3])
                .values(timeliness="overdue")
            )
        assert (await figures()).timers_late_seconds == 0.0
    finally:
        await engine.dispose()


async def test_gauges_follow_a_directive_to_three_communes(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    async with metrics_app(local_env, database_url, engine, task_queue, executor) as (
        api,
        _,
        clock,
    ):
        before = await scrape(api)
        directive = await issue(api, COMMUNES)
        await opened(api, directive["id"])
        acknowledged = await act(
            api, await api.token("commune_leader", "24121"), directive["id"], "24121", "acknowledge"
        )
        assert acknowledged.status_code == 200, acknowledged.text
        report = {"summary": "Đã hoàn thành", "evidence": []}
        leader = await api.token("commune_leader", "24133")
        reported = await act(api, leader, directive["id"], "24133", "report", report)
        assert reported.status_code == 200, reported.text

        async def settled() -> Samples:
            clock.seconds += REFRESH_SECONDS
            after = await scrape(api)
            assert (
                value(after, "axis_messages", state="no_channel")
                - value(before, "axis_messages", state="no_channel")
                == 3.0
            ), "the three issued messages"
            return after

        after = await eventually(settled)

    def more(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    within = "within_deadline"
    assert more("axis_assignments", status="notified", timeliness=within) == 1.0
    assert more("axis_assignments", status="acknowledged", timeliness=within) == 1.0
    assert more("axis_assignments", status="reported", timeliness=within) == 1.0
    assert sum(more("axis_assignments", status=s, timeliness=within) for s in STATUSES) == 3.0
    assert more("axis_escalations", level="0") == 3.0
    assert more("axis_assignments_overdue") == 0.0
    assert value(after, "axis_database_up") == 1.0
    assert value(after, "axis_temporal_up") == 1.0


async def test_two_scrapes_within_15_seconds_read_the_database_once(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    async with metrics_app(local_env, database_url, engine, task_queue, executor) as (
        api,
        app,
        clock,
    ):
        gauges: OperatorGauges = app.state.metrics
        statements: list[str] = []

        def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if "dead_letters" in statement:
                statements.append(statement)

        sync_engine = app.state.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", note)
        try:
            await scrape(api)
            clock.seconds += REFRESH_SECONDS - 0.001
            await scrape(api)
            assert (gauges.reads, len(statements)) == (1, 1)
            clock.seconds += 0.001
            await scrape(api)
            assert (gauges.reads, len(statements)) == (2, 2)
        finally:
            event.remove(sync_engine, "before_cursor_execute", note)


# ---- health and the reconciler ---------------------------------------------------------------


async def test_health_gauges_say_what_the_api_last_saw(
    local_env: WorkflowEnvironment, database_url: str
) -> None:
    async with serve(database_url, closed_port()) as (app, http, _):
        assert (await http.get("/healthz")).status_code == 503
        assert (app.state.metrics.database_up, app.state.metrics.temporal_up) == (True, False)
        away = parse((await http.get("/metrics")).text)
    assert (value(away, "axis_database_up"), value(away, "axis_temporal_up")) == (1.0, 0.0)
    async with serve(database_url, temporal_address(local_env)) as (app, http, _):
        assert (await http.get("/healthz")).status_code == 200
        assert (app.state.metrics.database_up, app.state.metrics.temporal_up) == (True, True)
        present = parse((await http.get("/metrics")).text)
    assert (value(present, "axis_database_up"), value(present, "axis_temporal_up")) == (1.0, 1.0)


def stuck_directives(engine: Engine) -> int:
    """What the reconciler will find: directives still issuing past RESUME_AFTER."""
    cutoff = datetime.now(UTC) - RESUME_AFTER
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.count(Directive.id)).where(
                    Directive.status == DirectiveStatus.ISSUING.value, Directive.issued_at < cutoff
                )
            )
            or 0
        )


async def test_reconciler_runs_and_repairs_are_counted(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issued_at = datetime.now(UTC) - timedelta(minutes=5)
    store_directive(engine, ["24121"], issued_at, DirectivePolicy(), deadline=issued_at + 10 * DAY)
    # The recurring pass also runs once at start, off the request path, and counts under the
    # same job: the frequent pass's calls are told apart here, where it is called.
    frequent: list[bool] = []
    reconcile_recurring = api_main.reconcile_recurring_schedules

    async def counted(app: Any, only_pending: bool = False) -> dict[int, str]:
        frequent.append(only_pending)
        return await reconcile_recurring(app, only_pending=only_pending)

    monkeypatch.setattr(api_main, "reconcile_recurring_schedules", counted)
    async with metrics_app(local_env, database_url, engine, task_queue, executor) as (
        api,
        app,
        _,
    ):
        before = await scrape(api)
        stuck = stuck_directives(engine)
        await _reconcile(app)
        after = await scrape(api)

    def more(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert stuck >= 1
    assert more("axis_reconciler_runs_total", job="directives") == 1.0
    assert more("axis_reconciler_runs_total", job="cases") == 1.0
    # The frequent pass finishes recurring directives left pending (none here), and only those.
    assert frequent == [True]
    assert more("axis_reconciler_repairs_total", job="directives", kind="stuck_issuing") == stuck
    assert (
        "axis_reconciler_repairs_total",
        frozenset({("job", "cases"), ("kind", "unstarted")}),
    ) in after


async def test_a_secret_in_a_path_never_becomes_a_label(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    """A one-click link's path carries its secret: the label is the route's template."""
    async with metrics_app(local_env, database_url, engine, task_queue, executor) as (api, *_):
        await api.http.get("/a/secret-token-in-the-path-123")
        text = (await api.request("GET", "/metrics", token=METRICS_TOKEN)).text
    assert "secret-token-in-the-path-123" not in text
