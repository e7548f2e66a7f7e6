"""API v1 assignments over HTTP: a commune's acknowledgement, report, review and extension,
who may act on which commune, and acknowledgements from every commune at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from tests.api.test_directives_api import (
    COMMUNES,
    DIRECTIVES,
    act,
    assignments_of,
    counts,
    eventually,
    iso7,
    issue,
    notifications,
    opened,
    parse,
)
from tests.conftest import ApiClient
from vocabulary.directives import AssignmentStatus, assignment_workflow_id
from vocabulary.events import AssignmentEventKind
from workflows.assignment import AssignmentWorkflow
from workflows.types import AcknowledgeInput, RecordAssignmentInput

OFFICE = "steering_office:admin (AXIS_ADMIN_TOKEN)"
OWN_COMMUNE_ONLY = {"detail": "a commune leader acts on their own commune only"}


def not_found(directive_id: int, commune_code: str) -> dict[str, str]:
    return {"detail": f"directive {directive_id} has no assignment for commune {commune_code}"}


OFFICE_ONLY = {"detail": "this action is for the role(s): steering_office"}
# A commune leader or, for a plan's task, an agency head answers an assignment.
LEADER_ONLY = {"detail": "this action is for the role(s): commune_leader, agency_head"}


async def detail(api: ApiClient, directive_id: int, code: str) -> dict[str, Any]:
    answer = await api.request("GET", f"{DIRECTIVES}/{directive_id}/assignments/{code}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def open_directive(api: ApiClient, communes: list[str] = COMMUNES) -> dict[str, Any]:
    directive = await issue(api, communes=communes)
    await opened(api, directive["id"])
    return directive


async def test_an_assignment_goes_from_notified_to_completed(api: ApiClient) -> None:
    code = "24133"
    directive = await open_directive(api)
    directive_id = directive["id"]
    leader = await api.token("commune_leader", code)
    actor = f"commune_leader:commune_leader {code}"

    first = await act(api, leader, directive_id, code, "acknowledge")
    assert first.status_code == 200, first.text
    assert first.json()["already_acknowledged"] is False
    assert first.json()["status"] == "acknowledged"
    assert first.json()["acknowledged_at"] is not None
    assert first.json()["acknowledged_revision"] == 1
    assert first.json()["needs_acknowledgement"] is False
    events = (await detail(api, directive_id, code))["events"]
    assert [(e["seq"], e["kind"], e["actor"]) for e in events] == [(1, "acknowledged", actor)]

    second = await act(api, leader, directive_id, code, "acknowledge")
    assert second.status_code == 200, second.text
    assert second.json()["already_acknowledged"] is True
    assert second.json()["status"] == "acknowledged"
    assert second.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    assert (await detail(api, directive_id, code))["events"] == events

    report = {"summary": "Đã rà soát 120 hộ.", "evidence": ["https://example.invalid/bc-1.pdf"]}
    reported = await act(api, leader, directive_id, code, "report", report)
    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "reported"
    assert reported.json()["timeliness"] == "within_deadline"
    assert reported.json()["report_summary"] == "Đã rà soát 120 hộ."
    assert reported.json()["report_evidence"] == ["https://example.invalid/bc-1.pdf"]
    assert reported.json()["reported_at"] is not None

    twice = await act(api, leader, directive_id, code, "report", report)
    assert twice.status_code == 409
    assert twice.json() == {"detail": "already reported: the report is waiting for review"}

    bare_return = await act(
        api, api.admin_token, directive_id, code, "review", {"decision": "return"}
    )
    assert bare_return.status_code == 422
    assert (
        "returning a report needs a comment saying what to rework" in (bare_return.json()["detail"])
    )
    assert (await detail(api, directive_id, code))["status"] == "reported"

    comment = "Bổ sung danh sách hộ cận nghèo."
    returned = await act(
        api,
        api.admin_token,
        directive_id,
        code,
        "review",
        {"decision": "return", "comment": comment},
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "returned"
    assert returned.json()["timeliness"] == "within_deadline"
    assert returned.json()["review_comment"] == comment
    sent = await notifications(api, directive_id=directive_id, kind="returned")
    assert sent["count"] == 1
    (message,) = sent["data"]
    assert message["commune_code"] == code
    assert message["recipient"] == f"lanh-dao-{code}@example.invalid"
    assert message["subject"] == f"[Yêu cầu bổ sung] {directive['title']}"
    assert f"Ý kiến: {comment}" in message["body"]

    report2 = {"summary": "Đã bổ sung danh sách.", "evidence": ["VB 12/UBND", "VB 13/UBND"]}
    again = await act(api, leader, directive_id, code, "report", report2)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "reported"
    assert again.json()["report_summary"] == "Đã bổ sung danh sách."
    assert again.json()["report_evidence"] == ["VB 12/UBND", "VB 13/UBND"]

    accepted = await act(
        api,
        api.admin_token,
        directive_id,
        code,
        "review",
        {"decision": "accept", "comment": "Tốt."},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "completed"
    assert accepted.json()["timeliness"] == "on_time"
    assert accepted.json()["completed_at"] is not None
    assert accepted.json()["needs_acknowledgement"] is False

    until = iso7(parse(directive["deadline"]) + timedelta(days=3))
    for token, action, body in (
        (leader, "acknowledge", None),
        (leader, "report", report),
        (leader, "extension", {"until": until, "reason": "Mưa lũ."}),
        (api.admin_token, "review", {"decision": "accept", "comment": ""}),
    ):
        refused = await act(api, token, directive_id, code, action, body)
        assert refused.status_code == 409, (action, refused.text)
        assert refused.json() == {"detail": "the assignment is completed"}, action

    final = await detail(api, directive_id, code)
    assert [(e["seq"], e["kind"], e["actor"]) for e in final["events"]] == [
        (1, "acknowledged", actor),
        (2, "reported", actor),
        (3, "returned", OFFICE),
        (4, "reported", actor),
        (5, "accepted", OFFICE),
    ]
    assert final["status"] == "completed"
    read = (await api.request("GET", f"{DIRECTIVES}/{directive_id}")).json()
    assert read["counts"] == counts(3, completed=1, notified=2, on_time=1, within_deadline=2)


async def test_a_review_needs_a_report_first(api: ApiClient) -> None:
    directive = await open_directive(api)

    answer = await act(
        api, api.admin_token, directive["id"], "24133", "review", {"decision": "accept"}
    )

    assert answer.status_code == 409
    assert answer.json() == {"detail": "nothing to review: the assignment is notified"}
    found = await detail(api, directive["id"], "24133")
    assert (found["status"], found["events"]) == ("notified", [])


async def test_an_extension_is_requested_then_granted_or_refused(api: ApiClient) -> None:
    granted, refused, early = COMMUNES
    directive = await open_directive(api)
    directive_id = directive["id"]
    deadline = parse(directive["deadline"])
    tokens = {code: await api.token("commune_leader", code) for code in COMMUNES}

    # Granted: the live deadline moves, the original one stays on record.
    until = deadline + timedelta(days=3)
    asked = await act(
        api,
        tokens[granted],
        directive_id,
        granted,
        "extension",
        {"until": iso7(until), "reason": "Mưa lũ."},
    )
    assert asked.status_code == 200, asked.text
    assert parse(asked.json()["extension_requested_until"]) == until
    assert parse(asked.json()["deadline"]) == deadline
    later = iso7(until + timedelta(days=1))
    repeat = await act(api, tokens[granted], directive_id, granted, "extension", {"until": later})
    assert repeat.status_code == 409
    assert repeat.json() == {"detail": "an extension request is already waiting for a decision"}
    decided = await act(
        api,
        api.admin_token,
        directive_id,
        granted,
        "extension/decision",
        {"decision": "grant", "comment": "Đồng ý."},
    )
    assert decided.status_code == 200, decided.text
    assert parse(decided.json()["deadline"]) == until
    assert parse(decided.json()["original_deadline"]) == deadline
    assert decided.json()["extension_requested_until"] is None
    assert decided.json()["timeliness"] == "within_deadline"
    assert [e["kind"] for e in (await detail(api, directive_id, granted))["events"]] == [
        "extension_requested",
        "extension_granted",
    ]

    # Refused: the deadline stays.
    asked = await act(
        api,
        tokens[refused],
        directive_id,
        refused,
        "extension",
        {"until": iso7(deadline + timedelta(days=2))},
    )
    assert asked.status_code == 200, asked.text
    decided = await act(
        api,
        api.admin_token,
        directive_id,
        refused,
        "extension/decision",
        {"decision": "refuse", "comment": "Không đủ căn cứ."},
    )
    assert decided.status_code == 200, decided.text
    assert parse(decided.json()["deadline"]) == deadline
    assert parse(decided.json()["original_deadline"]) == deadline
    assert decided.json()["extension_requested_until"] is None
    nothing_pending = await act(
        api, api.admin_token, directive_id, refused, "extension/decision", {"decision": "grant"}
    )
    assert nothing_pending.status_code == 409
    assert nothing_pending.json() == {"detail": "no extension request is waiting for a decision"}

    # A date before the deadline is no extension.
    too_early = await act(
        api,
        tokens[early],
        directive_id,
        early,
        "extension",
        {"until": iso7(deadline - timedelta(days=1))},
    )
    assert too_early.status_code == 409
    assert too_early.json() == {
        "detail": "the requested date must be later than the current deadline"
    }
    found = await detail(api, directive_id, early)
    assert (found["extension_requested_until"], found["events"]) == (None, [])

    sent = await notifications(api, directive_id=directive_id, kind="extension_decided")
    subjects = {n["commune_code"]: n["subject"] for n in sent["data"]}
    assert subjects == {
        granted: f"[Gia hạn được chấp thuận] {directive['title']}",
        refused: f"[Gia hạn không được chấp thuận] {directive['title']}",
    }
    assert sent["count"] == 2


async def test_a_commune_leader_acts_on_their_own_commune_only(api: ApiClient) -> None:
    directive = await open_directive(api)
    directive_id = directive["id"]
    leader = await api.token("commune_leader", "24133")
    before = await detail(api, directive_id, "24175")
    until = iso7(parse(directive["deadline"]) + timedelta(days=3))

    for action, body in (
        ("acknowledge", None),
        ("report", {"summary": "Xong.", "evidence": []}),
        ("extension", {"until": until, "reason": ""}),
    ):
        # Another commune's assignment answers exactly as one the directive does not have.
        answer = await act(api, leader, directive_id, "24175", action, body)
        missing = await act(api, leader, directive_id, "99999", action, body)
        assert (answer.status_code, answer.json()) == (404, not_found(directive_id, "24175"))
        assert (missing.status_code, missing.json()) == (404, not_found(directive_id, "99999"))
    read = await api.request("GET", f"{DIRECTIVES}/{directive_id}/assignments/24175", token=leader)
    assert (read.status_code, read.json()) == (404, not_found(directive_id, "24175"))
    assert await detail(api, directive_id, "24175") == before

    # The office's decisions are the office's, even on the leader's own commune.
    for action, body in (
        ("review", {"decision": "accept", "comment": ""}),
        ("extension/decision", {"decision": "grant", "comment": ""}),
    ):
        answer = await act(api, leader, directive_id, "24133", action, body)
        assert answer.status_code == 403, (action, answer.text)
        assert answer.json() == OFFICE_ONLY
    # And acknowledging is the leader's.
    office = await act(api, api.admin_token, directive_id, "24133", "acknowledge")
    assert office.status_code == 403
    assert office.json() == LEADER_ONLY
    assert (await detail(api, directive_id, "24133"))["events"] == []

    listing = await api.request("GET", f"{DIRECTIVES}/{directive_id}/assignments", token=leader)
    assert [a["commune_code"] for a in listing.json()["data"]] == ["24133"]
    assert listing.json()["count"] == 1


async def test_unknown_communes_directives_and_revoked_tokens(api: ApiClient) -> None:
    directive = await open_directive(api)
    directive_id = directive["id"]
    communes = (await api.request("GET", "/api/v1/communes")).json()["data"]
    outsider = next(c["code"] for c in communes if c["code"] not in COMMUNES)

    for code in ("99999", outsider):
        missing = {"detail": f"directive {directive_id} has no assignment for commune {code}"}
        read = await api.request("GET", f"{DIRECTIVES}/{directive_id}/assignments/{code}")
        assert read.status_code == 404
        assert read.json() == missing
        review = await act(
            api, api.admin_token, directive_id, code, "review", {"decision": "accept"}
        )
        assert review.status_code == 404
        assert review.json() == missing
    outsider_leader = await api.token("commune_leader", outsider)
    answer = await act(api, outsider_leader, directive_id, outsider, "acknowledge")
    assert answer.status_code == 404
    assert answer.json() == {
        "detail": f"directive {directive_id} has no assignment for commune {outsider}"
    }

    for path in (f"{DIRECTIVES}/999999999", f"{DIRECTIVES}/999999999/assignments"):
        unknown = await api.request("GET", path)
        assert unknown.status_code == 404
        assert unknown.json() == {"detail": "directive 999999999 not found"}

    for body, message in (
        ({"role": "commune_leader", "name": "A"}, "a commune_leader token needs commune_code"),
        (
            {"role": "commune_leader", "commune_code": "99999", "name": "A"},
            "unknown commune 99999",
        ),
        (
            {"role": "reader", "commune_code": "24133", "name": "A"},
            "a reader token is province-wide: leave commune_code out",
        ),
    ):
        refused = await api.request("POST", "/api/v1/tokens", json=body)
        assert refused.status_code == 422, body
        assert refused.json() == {"detail": message}
    created = await api.request(
        "POST",
        "/api/v1/tokens",
        json={"role": "commune_leader", "commune_code": "24133", "name": "Lãnh đạo thử"},
    )
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["id"]
    assert (await api.request("GET", DIRECTIVES, token=token)).status_code == 200
    assert (await api.request("DELETE", f"/api/v1/tokens/{token_id}")).status_code == 204
    revoked = await act(api, token, directive_id, "24133", "acknowledge")
    assert revoked.status_code == 401
    assert revoked.json() == {"detail": "the token is unknown or revoked"}
    assert (await api.request("GET", DIRECTIVES, token=token)).status_code == 401
    assert (await detail(api, directive_id, "24133"))["events"] == []
    listed = (await api.request("GET", "/api/v1/tokens")).json()["data"]
    row = next(t for t in listed if t["id"] == token_id)
    assert row["revoked_at"] is not None
    assert all("token" not in t and "token_hash" not in t for t in listed)


async def test_a_commune_leader_reads_their_own_notifications_only(api: ApiClient) -> None:
    directive = await open_directive(api)
    directive_id = directive["id"]
    leader = await api.token("commune_leader", "24133")

    async def issued_to_all() -> None:
        found = await notifications(api, directive_id=directive_id, kind="issued")
        assert found["count"] == 3

    await eventually(issued_to_all)

    own = await notifications(api, token=leader, directive_id=directive_id)
    assert own["count"] == 1
    assert [(n["commune_code"], n["kind"]) for n in own["data"]] == [("24133", "issued")]
    assert own["data"][0]["recipient"] == "lanh-dao-24133@example.invalid"
    everything = await notifications(api, token=leader)
    assert {n["commune_code"] for n in everything["data"]} == {"24133"}
    other = await api.request(
        "GET",
        "/api/v1/notifications",
        token=leader,
        params={"directive_id": directive_id, "commune_code": "24175"},
    )
    assert other.status_code == 403
    assert other.json() == OWN_COMMUNE_ONLY


@pytest.mark.faults
async def test_102_communes_acknowledge_at_once_each_clicking_three_times(api: ApiClient) -> None:
    communes = (await api.request("GET", "/api/v1/communes")).json()["data"]
    codes = sorted(c["code"] for c in communes)
    tokens = dict(
        zip(
            codes,
            await asyncio.gather(*(api.token("commune_leader", c) for c in codes)),
            strict=True,
        )
    )
    directive = await issue(api, communes=None)
    directive_id = directive["id"]
    assert directive["communes_count"] == 102
    await opened(api, directive_id)

    clicks = [code for code in codes for _ in range(3)]
    answers = await asyncio.gather(
        *(act(api, tokens[code], directive_id, code, "acknowledge") for code in clicks)
    )

    assert Counter(a.status_code for a in answers) == {200: 306}, [
        a.text for a in answers if a.status_code != 200
    ][:5]
    first_clicks = Counter(
        code
        for code, a in zip(clicks, answers, strict=True)
        if not a.json()["already_acknowledged"]
    )
    assert first_clicks == Counter(codes)
    read = (await api.request("GET", f"{DIRECTIVES}/{directive_id}")).json()
    assert read["counts"] == counts(102, acknowledged=102, within_deadline=102)
    details = await asyncio.gather(*(detail(api, directive_id, code) for code in codes))
    for code, found in zip(codes, details, strict=True):
        assert [e["kind"] for e in found["events"]] == ["acknowledged"], code
        assert found["events"][0]["actor"] == f"commune_leader:commune_leader {code}"
    found_all = await assignments_of(api, directive_id)
    assert {a["status"] for a in found_all.values()} == {"acknowledged"}
    assert len(found_all) == 102
    # Every answer, the repeated clicks' too, shows the assignment acknowledged.
    stale = [
        {
            k: a.json()[k]
            for k in ("commune_code", "status", "acknowledged_at", "already_acknowledged")
        }
        for a in answers
        if a.json()["status"] != "acknowledged" or a.json()["acknowledged_at"] is None
    ]
    assert stale == [], f"{len(stale)} answers show no acknowledgement: {stale[:3]}"


@pytest.mark.faults
async def test_clicking_the_acknowledge_link_three_times_at_once(api: ApiClient) -> None:
    code = "24133"
    directive = await open_directive(api)
    leader = await api.token("commune_leader", code)

    answers = await asyncio.gather(
        *(act(api, leader, directive["id"], code, "acknowledge") for _ in range(3))
    )

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["already_acknowledged"] for a in answers) == [False, True, True]
    events = (await detail(api, directive["id"], code))["events"]
    assert [e["kind"] for e in events] == ["acknowledged"]
    # A repeated click is told "already acknowledged": its answer must show the acknowledgement
    # (status, time, revision), not the state from before the first click.
    fields = ("status", "acknowledged_at", "acknowledged_revision", "needs_acknowledgement")
    shown = [{k: a.json()[k] for k in fields} for a in answers]
    expected = {
        "status": "acknowledged",
        "acknowledged_at": events[0]["at"],
        "acknowledged_revision": 1,
        "needs_acknowledgement": False,
    }
    assert shown == [expected] * 3


async def assignment_changes(
    api: ApiClient, directive_id: int, code: str
) -> list[tuple[str, dict[str, Any]]]:
    """The change feed's entries for one assignment, oldest first."""
    found, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"after": after} if after else {})}
        page = (await api.request("GET", "/api/v1/changes", params=params)).json()
        found += [
            (c["kind"], c["detail"])
            for c in page["data"]
            if (c["entity"], c["directive_id"], c["commune_code"])
            == ("assignment", directive_id, code)
        ]
        if not page["data"]:
            return found
        after = page["next"]


async def test_an_acknowledgement_the_api_never_wrote_reaches_the_read_model_with_the_next_write(
    api: ApiClient,
) -> None:
    """The API writes an acknowledgement's record from the update's answer; the workflow carries
    the same record with its own next write. An answer whose API stopped before writing (here:
    sent straight to the workflow) reaches the read model, its feed and its timeline, once, with
    the report that follows it."""
    code = "24133"
    directive = await open_directive(api)
    directive_id = directive["id"]
    handle = api.temporal.get_workflow_handle(assignment_workflow_id(directive_id, code))

    record = await handle.execute_update(
        AssignmentWorkflow.acknowledge, AcknowledgeInput(actor="commune_leader:straight")
    )

    assert isinstance(record, RecordAssignmentInput)
    assert (record.state.seq, record.state.status, record.event.kind) == (
        1,
        AssignmentStatus.ACKNOWLEDGED,
        AssignmentEventKind.ACKNOWLEDGED,
    )

    unwritten = await detail(api, directive_id, code)
    # Through the API now: the repeat is answered from the workflow's state.
    leader = await api.token("commune_leader", code)
    again = await act(api, leader, directive_id, code, "acknowledge")
    reported = await act(
        api, leader, directive_id, code, "report", {"summary": "Xong", "evidence": []}
    )
    found = await detail(api, directive_id, code)

    assert (unwritten["status"], unwritten["events"]) == ("notified", [])
    assert again.status_code == 200, again.text
    assert (again.json()["already_acknowledged"], again.json()["status"]) == (True, "acknowledged")
    assert reported.status_code == 200, reported.text
    assert parse(found["acknowledged_at"]) == record.state.acknowledged_at
    assert [(e["seq"], e["kind"], e["actor"]) for e in found["events"]] == [
        (1, "acknowledged", "commune_leader:straight"),
        (2, "reported", f"commune_leader:commune_leader {code}"),
    ]
    assert await assignment_changes(api, directive_id, code) == [
        ("issued", {"seq": 0, "status": "notified"}),
        ("acknowledged", {"seq": 1, "status": "acknowledged", "timeliness": "within_deadline"}),
        ("reported", {"seq": 2, "status": "reported", "timeliness": "within_deadline"}),
    ]
