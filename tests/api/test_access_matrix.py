"""Who may touch what, over every endpoint the app publishes: the routes come from its OpenAPI
document, so an endpoint added later joins the matrix without a change here (give it a body
in BODIES if it takes one).

- a commune leader, with another commune's ids: 0 reads, 0 writes;
- a commune leader and an official in charge, on another commune's assignment, dossier or
  feedback: the very answer a missing id gets (404, the same body), so ids cannot be probed;
  a list filtered on another commune may answer 403 (commune codes are public);
- every role but the steering office, on the steering office's actions: 100 % refused (403).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import create_app
from config import Settings
from db.models import AssignmentEventRow, Directive, Dossier, Notification
from tests.api.test_directives_api import issue, opened
from tests.api.test_procedures_api import dossier_body
from tests.api.test_scoping_and_tokens import routed_feedback
from tests.conftest import ApiClient

pytestmark = pytest.mark.security

OWN, OTHER = "24133", "24121"
# A valid body for each action that takes one, by the last segment of its path: a refusal must
# come from the access rules, not from validation.
BODIES: dict[str, dict[str, Any]] = {
    "report": {"summary": "Đã hoàn thành", "evidence": []},
    "review": {"decision": "accept"},
    "extension": {"until": "2099-01-01T17:00:00+07:00", "reason": "Chờ số liệu"},
    "decision": {"grant": True},
    "recall": {"reason": "Thay thế"},
    "tokens": {"role": "reader", "name": "x"},
    "directives": {"title": "T", "body": "B", "due_in_working_days": 3},
    "{directive_id}": {"body": "Sửa"},
    "transfer": {"to_level": "province", "reason": "Chuyển"},
    "supplement-request": {"reason": "Thiếu giấy tờ"},
    "refuse": {"reason": "Không đủ điều kiện"},
    "forward": {"to_commune": OWN, "reason": "Địa bàn"},
    "answer": {"text": "Đã xử lý"},
    "units": {"code": "SXY", "kind": "department", "name": "Sở Thử nghiệm"},
    "{code}": {"note": "Sửa"},
    "plans": {"code": "KH-1", "title": "Kế hoạch", "issued_on": "2026-12-01", "source": "NQ 57"},
    "verify": {"decision": "accept"},
    "issue": {"tasks": ["1"]},
    "contributions": {"summary": "Đã góp ý dự thảo"},
    "webhooks": {"url": "https://lgsp.example.invalid/hook", "events": ["*"]},
}
# Can-bo-01 of the demo roster: in charge of ten communes, neither OWN nor OTHER.
OFFICIAL = "can-bo-01@example.invalid"
MISSING_ID = 10**9
# Who may call each steering-office action: the office only.
OFFICE_ACTIONS = [
    ("POST", "/api/v1/directives"),
    ("PATCH", "/api/v1/directives/{directive_id}"),
    ("POST", "/api/v1/directives/{directive_id}/recall"),
    ("POST", "/api/v1/directives/{directive_id}/assignments/{commune_code}/review"),
    ("POST", "/api/v1/directives/{directive_id}/assignments/{commune_code}/extension/decision"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/units"),
    ("PATCH", "/api/v1/units/{code}"),
    ("POST", "/api/v1/plans"),
    ("POST", "/api/v1/plans/{plan_id}/tasks"),
    ("POST", "/api/v1/plans/{plan_id}/import"),
    ("POST", "/api/v1/plans/{plan_id}/issue"),
    ("POST", "/api/v1/indicators"),
    ("POST", "/api/v1/indicators/import"),
    ("PATCH", "/api/v1/indicators/{code}"),
    ("POST", "/api/v1/indicators/{code}/values/{value_id}/verify"),
    ("POST", "/api/v1/indicators/{code}/periods"),
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks/{subscription_id}"),
    ("DELETE", "/api/v1/webhooks/{subscription_id}"),
    ("POST", "/api/v1/webhooks/{subscription_id}/resume"),
    ("GET", "/api/v1/webhooks/{subscription_id}/deliveries"),
]
ROLES_BUT_OFFICE = ["commune_leader", "official_in_charge", "reader"]


def published_routes() -> list[tuple[str, str, list[str]]]:
    """(method, path, query parameter names) of every API v1 operation."""
    spec = create_app(Settings()).openapi()
    found = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in operations.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            found.append((method.upper(), path, query))
    return found


def commune_scoped(routes: list[tuple[str, str, list[str]]]) -> list[tuple[str, str, list[str]]]:
    return [r for r in routes if "{commune_code}" in r[1] or "commune_code" in r[2]]


def fill(
    path: str, directive_id: int, commune: str, recurring_id: int = 0, case_id: int = 0
) -> str:
    return (
        path.replace("{directive_id}", str(directive_id))
        .replace("{commune_code}", commune)
        .replace("{recurring_id}", str(recurring_id))
        .replace("{dossier_id}", str(case_id))
        .replace("{feedback_id}", str(case_id))
        .replace("{code}", "SNV")
        .replace("{plan_id}", "1")
        .replace("{value_id}", "1")
        .replace("{subscription_id}", "1")
    )


def body_for(path: str) -> dict[str, Any] | None:
    return BODIES.get(path.rstrip("/").rsplit("/", 1)[-1])


def writes(engine: Engine, directive_id: int) -> tuple[int, int]:
    """Timeline events and messages of the other commune: what a cross-commune write leaves."""
    with Session(engine) as session:
        events = session.scalar(
            select(func.count())
            .select_from(AssignmentEventRow)
            .where(
                AssignmentEventRow.directive_id == directive_id,
                AssignmentEventRow.commune_code == OTHER,
            )
        )
        messages = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.directive_id == directive_id, Notification.commune_code == OTHER)
        )
    return events or 0, messages or 0


async def test_no_commune_leader_reads_or_writes_another_communes_data(
    api: ApiClient, engine: Engine, figure: Callable[[str], None]
) -> None:
    directive = await issue(api, communes=[OWN, OTHER])
    directive_id = directive["id"]
    await opened(api, directive_id)
    # A directive addressed to the other commune alone: nothing of it is the leader's.
    theirs = await issue(api, communes=[OTHER])
    await opened(api, theirs["id"])
    recurring = await api.request(
        "POST",
        "/api/v1/recurring-directives",
        json={"title": "Hai hoạt động mỗi tuần", "body": "Báo cáo.", "communes": [OWN, OTHER]},
    )
    assert recurring.status_code == 201, recurring.text
    recurring_id = recurring.json()["id"]
    leader = await api.token("commune_leader", OWN)
    before = writes(engine, directive_id), writes(engine, theirs["id"])
    routes = commune_scoped(published_routes())
    of_a_directive = [r for r in published_routes() if "{directive_id}" in r[1]]
    cases = [(r, directive_id) for r in routes] + [(r, theirs["id"]) for r in of_a_directive]
    answers: Counter[int] = Counter()
    leaks: list[str] = []
    unclear: list[str] = []
    for (method, path, query), target in cases:
        params = {"commune_code": OTHER} if "commune_code" in query else None
        url = fill(path, target, OTHER, recurring_id)
        answer = await api.request(method, url, token=leader, params=params, json=body_for(path))
        answers[answer.status_code] += 1
        if answer.status_code < 400:
            leaks.append(f"{method} {url} {params}: {answer.status_code}")
        elif answer.status_code not in (403, 404):
            unclear.append(f"{method} {url} {params}: {answer.status_code} {answer.text[:200]}")
    n = sum(answers.values())
    figure(
        f"{n} cross-commune requests ({len(routes)} commune-scoped operations with the other "
        f"commune's code, {len(of_a_directive)} operations on the other commune's directive): "
        f"{dict(answers)}; {len(leaks)} reads or writes"
    )
    assert leaks == []
    assert unclear == [], "\n".join(unclear)
    gone = await api.request("DELETE", f"/api/v1/recurring-directives/{recurring_id}")
    assert gone.status_code in (200, 204), gone.text
    assert n == len(cases) >= 18
    assert (writes(engine, directive_id), writes(engine, theirs["id"])) == before
    with Session(engine) as session:
        stored = session.get(Directive, directive_id)
        assert stored is not None and stored.revision == 1 and stored.status == "active"


async def test_another_communes_objects_answer_as_missing_ones_for_leaders_and_officials(
    api: ApiClient, engine: Engine, figure: Callable[[str], None]
) -> None:
    """Every operation on one assignment, dossier or feedback, with another commune's id and
    with an id that does not exist: the two answers are the same but for the id they name."""
    directive = await issue(api, communes=[OWN, OTHER])
    directive_id = directive["id"]
    await opened(api, directive_id)
    received = await api.request("POST", "/api/v1/dossiers", json=dossier_body(OTHER))
    assert received.status_code == 201, received.text
    dossier_id = received.json()["id"]
    feedback_id = routed_feedback(engine, OTHER)
    tokens = {
        "commune_leader": await api.token("commune_leader", OWN),
        "official_in_charge": (
            await api.request(
                "POST",
                "/api/v1/tokens",
                json={"role": "official_in_charge", "name": "Cán bộ 1", "email": OFFICIAL},
            )
        ).json()["token"],
    }
    objects = [
        (method, path)
        for method, path, _ in published_routes()
        if "{recurring_id}" not in path
        and any(k in path for k in ("{commune_code}", "{dossier_id}", "{feedback_id}"))
    ]
    before = writes(engine, directive_id)
    statuses: Counter[int] = Counter()
    leaks: list[str] = []
    differing: list[str] = []
    for role, token in tokens.items():
        for method, path in objects:
            case = dossier_id if "{dossier_id}" in path else feedback_id
            theirs = fill(path, directive_id, OTHER, case_id=case)
            missing = fill(path, directive_id, "99999", case_id=MISSING_ID)
            answer = await api.request(method, theirs, token=token, json=body_for(path))
            absent = await api.request(method, missing, token=token, json=body_for(path))
            statuses[answer.status_code] += 1
            if answer.status_code < 400:
                leaks.append(f"{role} {method} {theirs}: {answer.status_code}")
            named = absent.text.replace("99999", OTHER).replace(str(MISSING_ID), str(case))
            if (answer.status_code, answer.text) != (absent.status_code, named):
                differing.append(f"{role} {method} {theirs}: {answer.text} / {absent.text}")
    n = sum(statuses.values())
    figure(
        f"{n} reads and actions on another commune's assignment, dossier or feedback by a"
        f" leader and an official ({len(objects)} operations each): {dict(statuses)};"
        f" {len(leaks)} reads or writes; {len(differing)} told apart from a missing id"
    )
    assert leaks == []
    assert differing == [], "\n".join(differing)
    assert n == 2 * len(objects) >= 30
    assert writes(engine, directive_id) == before
    with Session(engine) as session:
        stored = session.get(Dossier, dossier_id)
        assert stored is not None and stored.status == "received"


async def test_every_role_but_the_office_is_refused_the_offices_actions(
    api: ApiClient, figure: Callable[[str], None]
) -> None:
    directive = await issue(api, communes=[OWN])
    directive_id = directive["id"]
    await opened(api, directive_id)
    published = {(m, p) for m, p, _ in published_routes()}
    assert set(OFFICE_ACTIONS) <= published
    tokens = {
        "commune_leader": await api.token("commune_leader", OWN),
        "official_in_charge": await api.token("official_in_charge"),
        "reader": await api.token("reader"),
    }
    statuses: Counter[int] = Counter()
    for role in ROLES_BUT_OFFICE:
        for method, path in OFFICE_ACTIONS:
            answer = await api.request(
                method, fill(path, directive_id, OWN), token=tokens[role], json=body_for(path)
            )
            statuses[answer.status_code] += 1
    n = sum(statuses.values())
    figure(f"{n} office actions by {len(ROLES_BUT_OFFICE)} other roles: {dict(statuses)}")
    assert statuses == {403: len(ROLES_BUT_OFFICE) * len(OFFICE_ACTIONS)}


def test_the_matrix_covers_every_commune_scoped_operation() -> None:
    scoped = {f"{m} {re.sub(r'/api/v1', '', p)}" for m, p, _ in commune_scoped(published_routes())}
    # The operations of today; a new one adds itself (this only checks none was lost).
    assert {
        "GET /directives/{directive_id}/assignments/{commune_code}",
        "POST /directives/{directive_id}/assignments/{commune_code}/acknowledge",
        "POST /directives/{directive_id}/assignments/{commune_code}/report",
        "POST /directives/{directive_id}/assignments/{commune_code}/review",
        "GET /assignments",
        "GET /notifications",
    } <= scoped
