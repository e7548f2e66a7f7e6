"""Webhook subscriptions over the API, with the product's worker on the dev server and a
receiver on loopback (reached because AXIS_WEBHOOK_ALLOW_HOSTS lists it) that checks every
request with `standardwebhooks`, the Standard Webhooks specification's own verifier
(https://github.com/standard-webhooks/standard-webhooks, `libraries/python`).

- events arrive once each, signed, in the change feed's order (so in order for each
  assignment), through a receiver outage of a minute;
- an event failing past the give-up time pauses the subscription, tells the office, and a
  resume goes on from that event;
- a URL that could reach inside the network, an unknown event, another role: refused, nothing
  stored."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from activities.channels.webhook import parse_allowed_hosts
from db.changes import decode_cursor, of_event_types
from db.models import PROVINCE_SCOPE, Change, Notification, RosterEntry
from tests.api.test_assignments_api import act
from tests.api.test_directives_api import DIRECTIVES, eventually, issue, opened
from tests.api.test_open311 import TAN_AN, post_request, routed
from tests.api.test_procedures_api import DOSSIERS, dossier_body
from tests.conftest import ApiClient, api_app
from vocabulary.roles import Role
from vocabulary.webhooks import EVENT_TYPES, event_type, subscribed_types

WEBHOOKS = "/api/v1/webhooks"
COMMUNES = ["24121", "24133", "24175", "24181", "24184"]
OUTAGE_SECONDS = 60.0


@dataclass
class Receiver:
    """A subscriber's endpoint: verifies each request, answers 503 while `down`."""

    url: str = ""
    secret: str = ""
    down: bool = False
    # (webhook-id, body) of every request accepted, in arrival order.
    accepted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)
    refused: int = 0
    unverified: int = 0


@asynccontextmanager
async def receiver_server() -> AsyncIterator[Receiver]:
    receiver = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        try:
            Webhook(receiver.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            receiver.unverified += 1
            return Response(status_code=400)
        if receiver.down:
            receiver.refused += 1
            return Response(status_code=503)
        receiver.accepted.append((request.headers["webhook-id"], json.loads(body)))
        receiver.accepted_at.append(time.monotonic())
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    sock.listen(128)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def webhook_stack(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    **policy: object,
) -> AsyncIterator[ApiClient]:
    """The API and the worker, both allowed to reach a receiver on loopback."""
    async with api_app(
        local_env,
        database_url,
        engine,
        task_queue,
        executor,
        webhook_hosts=parse_allowed_hosts("127.0.0.1"),
        webhook_allow_hosts="127.0.0.1",
        **policy,
    ) as (api, _):
        yield api


async def subscribe(api: ApiClient, receiver: Receiver, events: list[str]) -> dict[str, Any]:
    answer = await api.request(
        "POST", WEBHOOKS, json={"url": receiver.url, "events": events, "description": "LGSP"}
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    receiver.secret = created["secret"]
    return created


async def feed_events(api: ApiClient, after: str, events: list[str]) -> list[tuple[str, str]]:
    """(cursor, event type) of the change feed's rows after `after` that are these events."""
    wanted = subscribed_types(events)
    answer = await api.request("GET", "/api/v1/changes", params={"after": after, "limit": 1000})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["data"]
    found = [(r["cursor"], event_type(r["entity"], r["kind"])) for r in rows]
    return [(cursor, kind) for cursor, kind in found if kind in wanted]


async def attempts(api: ApiClient, subscription_id: int) -> list[dict[str, Any]]:
    answer = await api.request(
        "GET", f"{WEBHOOKS}/{subscription_id}/deliveries", params={"limit": 500}
    )
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


async def settled_attempts(
    api: ApiClient, subscription_id: int, delivered: int
) -> list[dict[str, Any]]:
    """The delivery log once it holds `delivered` deliveries.

    The receiver has an event before the worker records its attempt: the record follows the
    answer, so a log read the moment the last event arrives can be one delivery short.
    """

    async def recorded() -> list[dict[str, Any]]:
        log = await attempts(api, subscription_id)
        assert sum(a["outcome"] == "delivered" for a in log) == delivered, log
        return log

    return await eventually(recorded, seconds=30)


@pytest.mark.one_backend
async def test_events_arrive_once_each_signed_and_in_order_through_a_minute_long_outage(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    figure: Callable[[str], None],
) -> None:
    async with (
        receiver_server() as receiver,
        webhook_stack(
            local_env,
            database_url,
            engine,
            task_queue,
            executor,
            webhook_first_retry_seconds=1.0,
            webhook_max_retry_seconds=4.0,
        ) as api,
    ):
        created = await subscribe(api, receiver, ["*"])
        assert "secret" not in (await api.request("GET", WEBHOOKS)).json()["data"][0]
        receiver.down = True
        down_at = time.monotonic()

        # A directive's whole life while the receiver is down: issued to five communes, two
        # acknowledge, its text amended, one reports, then recalled.
        directive = await issue(api, communes=COMMUNES)
        directive_id = directive["id"]
        await opened(api, directive_id)
        for code in COMMUNES[:2]:
            leader = await api.token("commune_leader", code)
            answer = await act(api, leader, directive_id, code, "acknowledge")
            assert answer.status_code == 200, answer.text
        path = f"{DIRECTIVES}/{directive_id}"
        amended = await api.request("PATCH", path, json={"body": "Báo cáo trước ngày 20."})
        assert amended.status_code == 200, amended.text
        recalled = await api.request("POST", f"{path}/recall", json={"reason": "Thay thế"})
        assert recalled.status_code == 200, recalled.text

        async def refused_while_down() -> None:
            assert receiver.refused >= 1
            assert time.monotonic() - down_at >= OUTAGE_SECONDS

        await eventually(refused_while_down, seconds=OUTAGE_SECONDS + 30)
        receiver.down = False
        up_at = time.monotonic()

        async def all_arrived() -> list[tuple[str, str]]:
            # The session's database is shared: other processes' changes (the API's catch-up at
            # start, say) are events too, and arrive among this directive's, in the feed's order.
            expected = await feed_events(api, created["delivered_through"], ["*"])
            got = [(b["data"]["cursor"], b["type"]) for _, b in receiver.accepted]
            assert got == expected, (len(got), len(expected))
            own = [b for _, b in receiver.accepted if b["data"]["directive_id"] == directive_id]
            assert len(own) == 20, len(own)
            return expected

        expected = await eventually(all_arrived, seconds=60)
        drained = receiver.accepted_at[-1] - up_at
        log = await settled_attempts(api, created["id"], len(expected))
        assert (await api.request("DELETE", f"{WEBHOOKS}/{created['id']}")).status_code == 204

    ids = [webhook_id for webhook_id, _ in receiver.accepted]
    bodies = [body for _, body in receiver.accepted]
    # Once each: no event accepted twice, every one verified, nothing unsigned.
    assert len(ids) == len(set(ids)) == len(expected)
    assert receiver.unverified == 0
    assert ids == [f"evt_{decode_cursor(b['data']['cursor'])}" for b in bodies]
    own = [b for b in bodies if b["data"]["directive_id"] == directive_id]
    types = Counter(b["type"] for b in own)
    # 1 directive.issued, 5 issued assignments, 2 acknowledgements, 5 amendments relayed,
    # 5 cancellations, 1 directive.amended, 1 directive.recalled.
    assert types == {
        "directive.issued": 1,
        "directive.amended": 1,
        "directive.recalled": 1,
        "assignment.changed": 17,
    }
    # In order for each assignment: its kinds as they happened.
    per_commune: dict[str, list[str]] = {}
    for body in own:
        if body["type"] == "assignment.changed":
            per_commune.setdefault(body["data"]["commune_code"], []).append(body["data"]["kind"])
    assert per_commune == {
        **{c: ["issued", "acknowledged", "amended", "cancelled"] for c in COMMUNES[:2]},
        **{c: ["issued", "amended", "cancelled"] for c in COMMUNES[2:]},
    }
    # Nothing accepted during the outage; the first event then arrived within the longest wait.
    assert receiver.accepted_at[0] >= down_at + OUTAGE_SECONDS
    outcomes = Counter(a["outcome"] for a in log)
    assert outcomes == {"delivered": len(expected), "failed": receiver.refused}
    assert {a["status_code"] for a in log if a["outcome"] == "failed"} == {503}
    # Attempts are counted per event: the first one was tried until the receiver came back,
    # every other one went at its first attempt.
    tries: dict[str, list[int]] = {}
    for entry in log:
        tries.setdefault(entry["webhook_id"], []).append(entry["attempt"])
    assert sorted(tries.pop(ids[0])) == list(range(1, receiver.refused + 2))
    assert tries == {webhook_id: [1] for webhook_id in ids[1:]}
    first = own[0]
    assert first["type"] == "directive.issued"
    assert set(first["data"]) == {
        "cursor",
        "entity",
        "directive_id",
        "commune_code",
        "kind",
        "detail",
        "at",
    }
    figure(
        f"webhooks: {len(expected)} events ({len(own)} of the directive) once each through a "
        f"{OUTAGE_SECONDS:.0f} s outage; "
        f"{receiver.refused} attempts refused (503) on the first event, then all delivered "
        f"{drained:.1f} s after the receiver came back"
    )


async def test_an_event_failing_past_the_give_up_time_pauses_tells_the_office_and_resumes(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    async with (
        receiver_server() as receiver,
        webhook_stack(
            local_env,
            database_url,
            engine,
            task_queue,
            executor,
            webhook_first_retry_seconds=0.5,
            webhook_max_retry_seconds=1.0,
            # Two seconds instead of a day.
            webhook_give_up_hours=2 / 3600,
        ) as api,
    ):
        created = await subscribe(api, receiver, ["directive.issued", "directive.recalled"])
        subscription = f"{WEBHOOKS}/{created['id']}"
        receiver.down = True
        directive = await issue(api, communes=COMMUNES[:3])
        directive_id = directive["id"]

        async def paused() -> dict[str, Any]:
            answer = (await api.request("GET", subscription)).json()
            assert answer["status"] == "paused", answer
            return dict(answer)

        stopped = await eventually(paused, seconds=30)
        assert stopped["paused_reason"] == "HTTP 503"
        refused_when_paused = receiver.refused
        await opened(api, directive_id)
        recalled = await api.request(
            "POST", f"{DIRECTIVES}/{directive_id}/recall", json={"reason": "Thay thế"}
        )
        assert recalled.status_code == 200, recalled.text

        # Paused: nothing more is tried, the recall waits behind the event that failed.
        async def recall_in_feed() -> None:
            kinds = [k for _, k in await feed_events(api, created["delivered_through"], ["*"])]
            assert "directive.recalled" in kinds

        await eventually(recall_in_feed)
        assert receiver.refused == refused_when_paused
        with Session(engine) as session:
            office = session.scalar(
                select(func.count())
                .select_from(RosterEntry)
                .where(
                    RosterEntry.role == Role.STEERING_OFFICE.value,
                    RosterEntry.scope == PROVINCE_SCOPE,
                )
            )
            notices = session.scalars(
                select(Notification).where(
                    Notification.kind == "webhook_paused",
                    Notification.step.like(f"webhook-{created['id']}-paused-%"),
                )
            ).all()
        assert office and len(notices) == office
        assert all("HTTP 503" in n.body and receiver.url in n.body for n in notices)

        receiver.down = False
        resumed = await api.request("POST", f"{subscription}/resume")
        assert resumed.status_code == 200, resumed.text
        assert (resumed.json()["status"], resumed.json()["paused_reason"]) == ("active", "")

        async def both_arrived() -> None:
            # Another directive's event in the shared database may come first; this one's
            # two arrive in order.
            assert [
                b["type"] for _, b in receiver.accepted if b["data"]["directive_id"] == directive_id
            ] == ["directive.issued", "directive.recalled"]

        await eventually(both_arrived, seconds=30)
        again = await api.request("POST", f"{subscription}/resume")
        assert again.status_code == 409, again.text
        assert again.json()["detail"] == f"webhook subscription {created['id']} is not paused"
        log = await settled_attempts(api, created["id"], len(receiver.accepted))
        assert Counter(a["outcome"] for a in log) == {
            "delivered": len(receiver.accepted),
            "failed": receiver.refused,
        }
        assert (await api.request("DELETE", subscription)).status_code == 204
        assert (await api.request("GET", subscription)).status_code == 404
        assert (await api.request("DELETE", subscription)).status_code == 404
        listed = (await api.request("GET", WEBHOOKS)).json()["data"]
        assert created["id"] not in [s["id"] for s in listed]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"url": "https://127.0.0.1/hook", "events": ["*"]},
            "the host 127.0.0.1 is not a public address (127.0.0.1)",
        ),
        (
            {"url": "https://100.64.0.1/hook", "events": ["*"]},
            "the host 100.64.0.1 is not a public address (100.64.0.1)",
        ),
        (
            {"url": "https://169.254.169.254/latest", "events": ["*"]},
            "the host 169.254.169.254 is not a public address (169.254.169.254)",
        ),
        (
            {"url": "ftp://lgsp.example.invalid/hook", "events": ["*"]},
            "webhook URLs must be https (or http to an allowed host) with a host",
        ),
        (
            {"url": "https://user:pw@lgsp.example.invalid/hook", "events": ["*"]},
            "webhook URLs may not carry credentials",
        ),
    ],
)
async def test_a_url_that_could_reach_inside_the_network_is_refused_and_nothing_stored(
    api: ApiClient, body: dict[str, Any], detail: str
) -> None:
    before = (await api.request("GET", WEBHOOKS)).json()["data"]
    answer = await api.request("POST", WEBHOOKS, json=body)
    assert (answer.status_code, answer.json()["detail"]) == (422, detail)
    assert (await api.request("GET", WEBHOOKS)).json()["data"] == before


async def test_unknown_or_missing_events_are_refused(api: ApiClient) -> None:
    url = "https://lgsp.example.invalid/hook"
    unknown = await api.request("POST", WEBHOOKS, json={"url": url, "events": ["directive.closed"]})
    assert unknown.status_code == 422
    assert "unknown events ['directive.closed']" in unknown.text
    twice = await api.request(
        "POST", WEBHOOKS, json={"url": url, "events": ["score.snapshot", "score.snapshot"]}
    )
    assert twice.status_code == 422 and "an event is listed twice" in twice.text
    none = await api.request("POST", WEBHOOKS, json={"url": url, "events": []})
    assert none.status_code == 422


def test_the_feed_filter_picks_the_rows_event_type_names(engine: Engine) -> None:
    """The SQL filter the subscription reads the feed with, and the event each row is said to
    be in its body, agree for every event and every kind of row."""
    rows = [
        ("directive", "issued"),
        ("directive", "amended"),
        ("directive", "recalled"),
        ("directive", "closed"),
        ("assignment", "issued"),
        ("assignment", "acknowledged"),
        ("assignment", "overdue"),
        ("assignment", "escalated"),
        ("score", "scored"),
        ("dossier", "received"),
        ("feedback", "answered"),
    ]
    with Session(engine) as session:
        start = session.scalar(select(func.coalesce(func.max(Change.id), 0))) or 0
        session.add_all(
            Change(entity=e, directive_id=None, commune_code="", kind=k, detail={}) for e, k in rows
        )
        session.flush()
        for wanted in [*([t] for t in EVENT_TYPES), ["*"], ["directive.issued", "dossier.changed"]]:
            types = subscribed_types(wanted)
            picked = session.execute(
                select(Change.entity, Change.kind)
                .where(Change.id > start, of_event_types(types))
                .order_by(Change.id)
            ).all()
            assert [tuple(r) for r in picked] == [r for r in rows if event_type(*r) in types]
        session.rollback()
    assert event_type("directive", "closed") is None


async def test_dossier_and_feedback_changes_arrive_with_ids_and_states_only(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    async with (
        receiver_server() as receiver,
        webhook_stack(local_env, database_url, engine, task_queue, executor) as api,
    ):
        created = await subscribe(api, receiver, ["dossier.changed", "feedback.changed"])
        received = datetime.now(UTC).isoformat()
        filed = await api.request("POST", DOSSIERS, json=dossier_body(TAN_AN, received_at=received))
        assert filed.status_code == 201, filed.text
        dossier_id = filed.json()["id"]
        posted = await post_request(
            api.http, description="mat nuoc 3 ngay nay", address_string="phuong tan an"
        )
        request_id = posted.json()[0]["service_request_id"]
        feedback = await routed(api, request_id)
        staff = await api.request("GET", f"/api/v1/feedback/{request_id}")
        feedback_id = staff.json()["id"]

        async def both_arrived() -> list[dict[str, Any]]:
            expected = await feed_events(api, created["delivered_through"], created["events"])
            got = [(b["data"]["cursor"], b["type"]) for _, b in receiver.accepted]
            assert got == expected
            found = [b["data"] for _, b in receiver.accepted]
            assert feedback_id in [d["detail"].get("feedback_id") for d in found]
            return found

        arrived = await eventually(both_arrived)
        assert (await api.request("DELETE", f"{WEBHOOKS}/{created['id']}")).status_code == 204

    # Only this test's dossier and feedback: the session's database holds other tests' too.
    dossiers = [d for d in arrived if d["detail"].get("dossier_id") == dossier_id]
    feedbacks = [d for d in arrived if d["detail"].get("feedback_id") == feedback_id]
    assert [d["kind"] for d in dossiers] == ["received"]
    assert {d["detail"]["dossier_id"] for d in dossiers} == {dossier_id}
    assert [d["kind"] for d in feedbacks] == ["routed"]
    dossier, routed_to = dossiers[0], feedbacks[0]
    assert (dossier["entity"], dossier["commune_code"], dossier["kind"]) == (
        "dossier",
        TAN_AN,
        "received",
    )
    assert dossier["detail"]["dossier_id"] == dossier_id
    assert set(dossier["detail"]) == {"dossier_id", "seq", "status", "timeliness", "level"}
    assert (routed_to["entity"], routed_to["commune_code"], routed_to["kind"]) == (
        "feedback",
        TAN_AN,
        "routed",
    )
    assert set(routed_to["detail"]) == {"feedback_id", "seq", "status", "answered_on_time"}
    assert feedback["service_request_id"] == request_id
    # Neither the applicant nor the citizen reaches a subscriber.
    everything = json.dumps([b for _, b in receiver.accepted], ensure_ascii=False)
    assert "Trần Thị B" not in everything and "mat nuoc" not in everything


async def test_a_subscription_repeated_with_its_idempotency_key_is_the_same_one(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    async with (
        receiver_server() as receiver,
        webhook_stack(local_env, database_url, engine, task_queue, executor) as api,
    ):
        body = {"url": receiver.url, "events": ["score.snapshot"], "description": "NDAP"}
        key = {"Idempotency-Key": f"ndap-{task_queue}"}
        first = await api.request("POST", WEBHOOKS, json=body, headers=key)
        again = await api.request("POST", WEBHOOKS, json=body, headers=key)
        other = await api.request("POST", WEBHOOKS, json={**body, "events": ["*"]}, headers=key)
        listed = (await api.request("GET", WEBHOOKS)).json()["data"]
        assert (await api.request("DELETE", f"{WEBHOOKS}/{first.json()['id']}")).status_code == 204

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json() == first.json()
    assert first.json()["secret"].startswith("whsec_")
    assert (other.status_code, other.json()["detail"]) == (
        422,
        "this Idempotency-Key was used for a different request: use a new key for a new "
        "subscription",
    )
    assert [s["id"] for s in listed].count(first.json()["id"]) == 1
    assert [s["description"] for s in listed].count("NDAP") == 1
