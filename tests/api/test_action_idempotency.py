"""Actions repeated with an `Idempotency-Key`: a client that retries after a lost answer gets
the first answer again (the same status and body) and the workflow acts once; the same key with
another request is refused; without a key, a repeat is judged as before."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from db.models import UsedLink
from db.models.action_keys import ActionKey
from tests.api.test_ack_links import (  # noqa: F401 (the fixture)
    Stack,
    acknowledgements,
    links_of,
    stack,
)
from tests.api.test_assignments_api import detail, open_directive
from tests.api.test_directives_api import DIRECTIVES, finished, in_days, iso7, unique_title
from tests.api.test_open311 import EA_KAR, post_request, routed
from tests.api.test_procedures_api import DOSSIERS, dossier_body
from tests.conftest import ApiClient
from vocabulary.directives import assignment_workflow_id

CODE = "24133"
REPORT = {"summary": "Đã rà soát 120 hộ.", "evidence": ["https://example.invalid/bc-1.pdf"]}
DIFFERENT_REQUEST = {
    "detail": "this Idempotency-Key was used for a different request: use a new key for a new"
    " action"
}


async def act(
    api: ApiClient,
    token: str,
    directive_id: int,
    action: str,
    body: Any = None,
    key: str | bytes | None = None,
) -> httpx.Response:
    path = f"{DIRECTIVES}/{directive_id}/assignments/{CODE}/{action}"
    headers = {} if key is None else {"Idempotency-Key": key}
    return await api.request("POST", path, token=token, json=body, headers=headers)


async def kinds(api: ApiClient, directive_id: int) -> list[str]:
    return [e["kind"] for e in (await detail(api, directive_id, CODE))["events"]]


def forget_answers(engine: Engine, directive_id: int) -> None:
    """What a process that died between the workflow's answer and storing it leaves."""
    workflow_id = assignment_workflow_id(directive_id, CODE)
    with Session(engine) as session:
        session.execute(
            update(ActionKey).where(ActionKey.workflow_id == workflow_id).values(response=None)
        )
        session.commit()


async def test_a_report_repeated_with_one_key_gets_the_first_answer_and_is_recorded_once(
    api: ApiClient,
) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)

    first = await act(api, leader, directive_id, "report", REPORT, key="report-1")
    again = await act(api, leader, directive_id, "report", REPORT, key="report-1")

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "reported"
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert await kinds(api, directive_id) == ["reported"]

    # The office accepts: the workflow closes. A repeat still gets the first answer, not 409.
    accepted = await act(api, api.admin_token, directive_id, "review", {"decision": "accept"})
    assert accepted.status_code == 200, accepted.text
    await finished(api, directive_id, CODE)
    late = await act(api, leader, directive_id, "report", REPORT, key="report-1")
    assert (late.status_code, late.content) == (first.status_code, first.content)
    assert await kinds(api, directive_id) == ["reported", "accepted"]


async def test_two_repeats_at_once_are_answered_alike_and_recorded_once(api: ApiClient) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)

    answers = await asyncio.gather(
        *(act(api, leader, directive_id, "report", REPORT, key="report-5") for _ in range(3))
    )

    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert await kinds(api, directive_id) == ["reported"]


async def test_an_acknowledgement_repeated_with_one_key_gets_the_first_answer(
    api: ApiClient,
) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)

    first = await act(api, leader, directive_id, "acknowledge", key="ack-1")
    again = await act(api, leader, directive_id, "acknowledge", key="ack-1")

    assert first.status_code == 200, first.text
    assert first.json()["already_acknowledged"] is False
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert await kinds(api, directive_id) == ["acknowledged"]


async def test_a_repeat_whose_first_answer_was_never_stored_is_deduplicated_by_the_engine(
    api: ApiClient, engine: Engine
) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)
    first = await act(api, leader, directive_id, "report", REPORT, key="report-2")
    assert first.status_code == 200, first.text
    forget_answers(engine, directive_id)

    again = await act(api, leader, directive_id, "report", REPORT, key="report-2")

    # Without the update id, the workflow would refuse a second report (409).
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert await kinds(api, directive_id) == ["reported"]


async def test_one_key_with_a_different_request_is_refused_and_changes_nothing(
    api: ApiClient,
) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)
    first = await act(api, leader, directive_id, "report", REPORT, key="report-3")
    assert first.status_code == 200, first.text

    other = {**REPORT, "summary": "Đã rà soát 121 hộ."}
    refused = await act(api, leader, directive_id, "report", other, key="report-3")
    assert (refused.status_code, refused.json()) == (422, DIFFERENT_REQUEST)
    # The same key for another action is another request too.
    review = {"decision": "accept"}
    crossed = await act(api, api.admin_token, directive_id, "review", review, key="report-3")
    assert (crossed.status_code, crossed.json()) == (422, DIFFERENT_REQUEST)

    after = await detail(api, directive_id, CODE)
    assert (after["status"], after["report_summary"]) == ("reported", REPORT["summary"])
    assert [e["kind"] for e in after["events"]] == ["reported"]


async def test_a_key_that_is_too_long_or_not_printable_is_refused(api: ApiClient) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)

    too_long = await act(api, leader, directive_id, "acknowledge", key="k" * 201)
    unprintable = await act(api, leader, directive_id, "acknowledge", key="khóa".encode())

    assert too_long.status_code == 422, too_long.text
    assert unprintable.status_code == 422, unprintable.text
    assert unprintable.json() == {
        "detail": "an Idempotency-Key is 1 to 200 printable ASCII characters (a UUID, say)"
    }
    assert await kinds(api, directive_id) == []


async def test_without_a_key_a_repeat_is_judged_as_before(api: ApiClient) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)

    acknowledged = await act(api, leader, directive_id, "acknowledge")
    acknowledged_again = await act(api, leader, directive_id, "acknowledge")
    reported = await act(api, leader, directive_id, "report", REPORT)
    reported_again = await act(api, leader, directive_id, "report", REPORT)

    assert acknowledged.status_code == 200, acknowledged.text
    assert (acknowledged_again.status_code, acknowledged_again.json()["already_acknowledged"]) == (
        200,
        True,
    )
    assert reported.status_code == 200, reported.text
    assert (reported_again.status_code, reported_again.json()) == (
        409,
        {"detail": "already reported: the report is waiting for review"},
    )
    assert await kinds(api, directive_id) == ["acknowledged", "reported"]


async def test_a_repeat_to_a_closed_assignment_whose_answer_was_never_stored_says_what_it_did(
    api: ApiClient, engine: Engine
) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)
    first = await act(api, leader, directive_id, "report", REPORT, key="report-4")
    assert first.status_code == 200, first.text
    accepted = await act(api, api.admin_token, directive_id, "review", {"decision": "accept"})
    assert accepted.status_code == 200, accepted.text
    await finished(api, directive_id, CODE)
    forget_answers(engine, directive_id)

    again = await act(api, leader, directive_id, "report", REPORT, key="report-4")

    # The engine answers with the first update's result although the workflow has closed:
    # the report's state, not the completed assignment's, and no second report.
    assert again.status_code == 200, again.text
    said, was = again.json(), first.json()
    for field in ("status", "timeliness", "reported_at", "completed_at", "report_summary"):
        assert said[field] == was[field], field
    assert await kinds(api, directive_id) == ["reported", "accepted"]


async def test_a_dossier_step_repeated_with_one_key_gets_the_first_answer(api: ApiClient) -> None:
    leader = await api.token("commune_leader", "24133")
    received = await api.request("POST", DOSSIERS, token=leader, json=dossier_body())
    assert received.status_code == 201, received.text
    path = f"{DOSSIERS}/{received.json()['id']}"
    key = {"Idempotency-Key": "start-1"}

    first = await api.request("POST", f"{path}/start", token=leader, headers=key)
    again = await api.request("POST", f"{path}/start", token=leader, headers=key)
    refuse = {"reason": "Thiếu giấy tờ."}
    crossed = await api.request("POST", f"{path}/refuse", token=leader, json=refuse, headers=key)

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "processing"
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert (crossed.status_code, crossed.json()) == (422, DIFFERENT_REQUEST)
    after = (await api.request("GET", path, token=leader)).json()
    # Received in November: it is overdue, and its own timers write their events meanwhile.
    started = [e["kind"] for e in after["events"]].count("processing")
    assert (after["status"], started) == ("processing", 1)


async def test_a_feedback_answer_repeated_with_one_key_gets_the_first_answer(
    api: ApiClient,
) -> None:
    filed = await post_request(
        api.http,
        jurisdiction_id="daklak.gov.vn",
        description="Đèn đường trước chợ xã Ea Kar tắt cả tuần nay, buổi tối rất nguy hiểm",
        lat="12.80449",
        long="108.4505",
    )
    assert filed.status_code == 200, filed.text
    [receipt] = filed.json()
    request_id = receipt["service_request_id"]
    await routed(api, request_id)
    leader = await api.token("commune_leader", EA_KAR)
    path = f"/api/v1/feedback/{request_id}"
    key = {"Idempotency-Key": "answer-1"}
    text = {"text": "Đã thay bóng đèn."}

    first = await api.request("POST", f"{path}/answer", token=leader, json=text, headers=key)
    again = await api.request("POST", f"{path}/answer", token=leader, json=text, headers=key)
    other = {"text": "Lần hai"}
    changed = await api.request("POST", f"{path}/answer", token=leader, json=other, headers=key)

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "answered"
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert (changed.status_code, changed.json()) == (422, DIFFERENT_REQUEST)
    after = (await api.request("GET", path, token=leader)).json()
    answered = [e["kind"] for e in after["events"]].count("answered")
    assert (after["answer"], answered) == (text["text"], 1)


async def test_a_link_pressed_again_after_a_lost_answer_gets_the_first_answer(
    stack: Stack,  # noqa: F811
) -> None:
    issued = await stack.http.post(
        DIRECTIVES,
        json={
            "title": unique_title(),
            "body": "Mỗi xã rà soát dữ liệu.",
            "communes": [CODE],
            "deadline": iso7(in_days(3)),
            "reminder_offsets": [],
            "escalation": [],
        },
        headers=stack.auth(),
    )
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["id"]
    link = (await links_of(stack, directive_id, "issued", 1))[CODE]

    first = await stack.http.post(f"/a/{link}")
    # The process died before it wrote the link down as used.
    with Session(stack.engine) as session:
        session.execute(delete(UsedLink).where(UsedLink.directive_id == directive_id))
        session.commit()
    again = await stack.http.post(f"/a/{link}")

    assert first.status_code == 200, first.text
    assert "Đã xác nhận</" in first.text or ">Đã xác nhận<" in first.text
    assert (again.status_code, again.text) == (first.status_code, first.text)
    assert acknowledgements(stack.engine, directive_id) == {CODE: 1}


async def test_every_action_documents_the_key_in_the_openapi(api: ApiClient) -> None:
    paths = (await api.request("GET", "/openapi.json")).json()["paths"]
    actions = [
        path
        for path in paths
        if path.startswith(f"{DIRECTIVES}/{{directive_id}}/assignments/{{commune_code}}/")
        or path.startswith(f"{DOSSIERS}/{{dossier_id}}/")
        or path.startswith("/api/v1/feedback/{feedback_id}/")
    ]
    keyed = {
        path
        for path in actions
        for parameter in paths[path]["post"]["parameters"]
        if (parameter["in"], parameter["name"]) == ("header", "Idempotency-Key")
    }
    publishing = {
        "/api/v1/feedback/{feedback_id}/publish",
        "/api/v1/feedback/{feedback_id}/unpublish",
    }
    # Publishing sets a flag: repeating it changes nothing already, and it is no workflow's.
    assert sorted(keyed) == sorted(set(actions) - publishing)
    assert len(keyed) == 5 + 7 + 2


async def test_an_answer_gives_times_in_utc_whatever_offset_the_office_wrote(
    api: ApiClient,
) -> None:
    directive_id = (await open_directive(api, [CODE]))["id"]
    leader = await api.token("commune_leader", CODE)
    request = await act(
        api,
        leader,
        directive_id,
        "extension",
        {"until": iso7(in_days(20)), "reason": "Chờ số liệu của huyện."},
    )
    assert request.status_code == 200, request.text
    granted = await act(
        api, api.admin_token, directive_id, "extension/decision", {"decision": "grant"}
    )

    assert granted.status_code == 200, granted.text
    stored = await detail(api, directive_id, CODE)
    assert granted.json()["deadline"] == stored["deadline"]
    assert stored["deadline"].endswith("Z")
