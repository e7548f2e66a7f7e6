"""API v1 directives over HTTP: issue (with idempotency and validation), read, amend, recall,
and who may do which. The real app, a real Temporal dev server and the product's worker."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import holidays
import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.conftest import ApiClient
from tests.fan_out import until_fanned_out
from vocabulary.directives import assignment_workflow_id, directive_workflow_id

T = TypeVar("T")
DIRECTIVES = "/api/v1/directives"
NOTIFICATIONS = "/api/v1/notifications"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
PLUS_7 = timezone(timedelta(hours=7))
COMMUNES = ["24121", "24133", "24175"]
STATUSES = ("notified", "acknowledged", "reported", "returned", "completed", "cancelled")
TIMELINESS = ("within_deadline", "overdue", "on_time", "late")


# ---- helpers shared with test_assignments_api ----------------------------------------------


async def eventually(check: Callable[[], Awaitable[T]], seconds: float = 30) -> T:
    """Poll `check` every 0.1 s until it stops raising AssertionError; fail after `seconds`."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + seconds
    while True:
        try:
            return await check()
        except AssertionError as e:
            if loop.time() >= give_up:
                raise AssertionError(f"not within {seconds} s: {e}") from e
        await asyncio.sleep(0.1)


def in_days(days: float) -> datetime:
    """A moment `days` from now, whole seconds, in UTC."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def iso7(moment: datetime) -> str:
    """The moment as the office writes it: ISO 8601 with +07:00."""
    return moment.astimezone(PLUS_7).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def counts(total: int, **by_status_or_timeliness: int) -> dict[str, Any]:
    """The expected `counts` object: every bucket present, zero unless given."""
    return {
        "total": total,
        "status": {s: by_status_or_timeliness.get(s, 0) for s in STATUSES},
        "timeliness": {t: by_status_or_timeliness.get(t, 0) for t in TIMELINESS},
    }


def unique_title(prefix: str = "Chỉ đạo kiểm tra") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def issue(
    api: ApiClient,
    communes: list[str] | None = COMMUNES,
    deadline: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Issue a directive as the steering office (deadline 10 days out unless given)."""
    body: dict[str, Any] = {"title": unique_title(), "body": "Báo cáo kết quả thực hiện."}
    if "due_in_working_days" not in fields:
        body["deadline"] = iso7(deadline or in_days(10))
    if communes is not None:
        body["communes"] = communes
    body.update(fields)
    answer = await api.request("POST", DIRECTIVES, json=body)
    assert answer.status_code == 201, answer.text
    directive: dict[str, Any] = answer.json()
    assert directive["status"] == "active", directive
    return directive


async def opened(api: ApiClient, directive_id: int) -> None:
    """Wait until the directive has started every assignment workflow and recorded its
    `issued` messages: only then does an assignment take actions (before, the API answers
    409 "still being opened", as designed)."""
    handle = api.temporal.get_workflow_handle(directive_workflow_id(directive_id))
    await until_fanned_out(handle, seconds=60)


async def finished(api: ApiClient, directive_id: int, commune_code: str) -> None:
    """Wait until an assignment's workflow has closed (and so told its directive)."""
    handle = api.temporal.get_workflow_handle(assignment_workflow_id(directive_id, commune_code))

    async def closed() -> None:
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.COMPLETED, description.status

    await eventually(closed)


async def assignments_of(api: ApiClient, directive_id: int) -> dict[str, dict[str, Any]]:
    answer = await api.request("GET", f"{DIRECTIVES}/{directive_id}/assignments")
    assert answer.status_code == 200, answer.text
    return {a["commune_code"]: a for a in answer.json()["data"]}


async def notifications(api: ApiClient, token: str | None = None, **params: Any) -> dict[str, Any]:
    answer = await api.request("GET", NOTIFICATIONS, token=token, params={"limit": 500, **params})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def directive_count(api: ApiClient) -> int:
    answer = await api.request("GET", DIRECTIVES)
    assert answer.status_code == 200, answer.text
    total: int = answer.json()["count"]
    return total


async def act(
    api: ApiClient, token: str, directive_id: int, code: str, action: str, body: Any = None
) -> Any:
    path = f"{DIRECTIVES}/{directive_id}/assignments/{code}/{action}"
    return await api.request("POST", path, token=token, json=body)


# ---- issue ---------------------------------------------------------------------------------


async def test_issuing_to_every_commune_opens_102_assignments_and_records_102_messages(
    api: ApiClient,
) -> None:
    communes = (await api.request("GET", "/api/v1/communes")).json()["data"]
    codes = sorted(c["code"] for c in communes)
    assert len(codes) == 102
    deadline = in_days(10)
    title = unique_title("Rà soát hộ nghèo năm 2026")

    answer = await api.request(
        "POST", DIRECTIVES, json={"title": title, "body": "Nội dung.", "deadline": iso7(deadline)}
    )

    assert answer.status_code == 201, answer.text
    assert "Idempotent-Replayed" not in answer.headers
    directive = answer.json()
    assert directive["status"] == "active"
    assert directive["title"] == title
    assert parse(directive["deadline"]) == deadline
    assert directive["revision"] == 1
    assert directive["communes_count"] == 102
    assert directive["counts"] == counts(102, notified=102, within_deadline=102)
    assert directive["workflow_id"] == f"directive-{directive['id']}"
    listed = await assignments_of(api, directive["id"])
    assert sorted(listed) == codes
    assert {a["status"] for a in listed.values()} == {"notified"}

    async def all_issued() -> dict[str, Any]:
        found = await notifications(api, directive_id=directive["id"], kind="issued")
        assert found["count"] == 102, found["count"]
        return found

    issued = await eventually(all_issued)
    rows = issued["data"]
    assert len(rows) == 102
    assert sorted(n["commune_code"] for n in rows) == codes
    assert len({n["idempotency_key"] for n in rows}) == 102
    assert {n["recipient"] for n in rows} == {f"lanh-dao-{c}@example.invalid" for c in codes}
    assert Counter((n["channel"], n["status"], n["step"], n["language"]) for n in rows) == {
        ("zalo", "recorded", "rev-1", "vi"): 102
    }
    local = deadline.astimezone(VIETNAM)
    assert {n["subject"] for n in rows} == {
        f"[Chỉ đạo] {title} — hạn {local:%H:%M} ngày {local:%d/%m/%Y}"
    }
    # Nothing else was sent on issue: no reminders, escalations or duplicates.
    assert (await notifications(api, directive_id=directive["id"]))["count"] == 102


async def test_a_deadline_in_working_days_falls_at_the_close_of_a_working_day(
    api: ApiClient,
) -> None:
    directive = await issue(api, due_in_working_days=5)

    deadline = parse(directive["deadline"])
    assert directive["due_in_working_days"] == 5
    assert deadline.utcoffset() == timedelta(0)
    assert (deadline.hour, deadline.minute, deadline.second) == (10, 0, 0)
    local = deadline.astimezone(VIETNAM)
    assert (local.hour, local.minute) == (17, 0)
    # The 5th working day after the day of issue, on the Vietnamese calendar.
    calendar = holidays.country_holidays("VN")
    day = parse(directive["issued_at"]).astimezone(VIETNAM).date()
    left = 5
    while left:
        day += timedelta(days=1)
        left -= calendar.is_working_day(day)
    assert local.date() == day
    assignments = await assignments_of(api, directive["id"])
    assert {parse(a["deadline"]) for a in assignments.values()} == {deadline}


@pytest.mark.faults
async def test_ten_concurrent_issues_with_one_idempotency_key_make_one_directive(
    api: ApiClient,
) -> None:
    title = unique_title("Chống hạn vụ Đông Xuân")
    key = f"issue-{uuid.uuid4().hex}"
    body = {
        "title": title,
        "body": "Nội dung.",
        "deadline": iso7(in_days(10)),
        "communes": COMMUNES,
    }

    answers = await asyncio.gather(
        *(
            api.request("POST", DIRECTIVES, json=body, headers={"Idempotency-Key": key})
            for _ in range(10)
        )
    )

    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert {a.json()["status"] for a in answers} == {"active"}
    assert (
        sorted(a.headers.get("Idempotent-Replayed", "-") for a in answers) == ["-"] + ["true"] * 9
    )
    directive_id = answers[0].json()["id"]
    listed = (await api.request("GET", DIRECTIVES, params={"limit": 500})).json()["data"]
    assert [d["id"] for d in listed if d["title"] == title] == [directive_id]
    assert sorted(await assignments_of(api, directive_id)) == COMMUNES
    # One more, later: the same directive again.
    again = await api.request("POST", DIRECTIVES, json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == directive_id
    # The same key with another request is a client's mistake, not a replay.
    before = await directive_count(api)
    other = {**body, "title": unique_title("Khác")}
    reused = await api.request("POST", DIRECTIVES, json=other, headers={"Idempotency-Key": key})
    assert reused.status_code == 422
    assert reused.json()["detail"].startswith("this Idempotency-Key was used for a different")
    assert await directive_count(api) == before


async def test_invalid_directives_are_refused_with_422_and_store_nothing(api: ApiClient) -> None:
    before = await directive_count(api)
    good: dict[str, Any] = {
        "title": unique_title(),
        "body": "Nội dung.",
        "deadline": iso7(in_days(10)),
        "communes": COMMUNES,
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "status": "active"}, "status: Extra inputs are not permitted"),
        (
            {**good, "due_in_working_days": 5},
            "give exactly one of deadline and due_in_working_days",
        ),
        ({**good, "deadline": iso7(in_days(-1))}, "the deadline is in the past"),
        ({**good, "communes": ["24133", "99999"]}, "unknown commune codes: 99999"),
        (
            {**good, "reminder_offsets": ["P1Y"]},
            "'P1Y' is not an ISO 8601 duration such as PT10S, PT2H, P3D or P1DT12H",
        ),
        (
            {
                **good,
                "escalation": [
                    {"after": "P5D", "to": "steering_office"},
                    {"after": "P2D", "to": "official_in_charge"},
                ],
            },
            "escalation steps must come in order of 'after', each later",
        ),
    ]
    for body, message in cases:
        answer = await api.request("POST", DIRECTIVES, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert message in answer.json()["detail"], (body, answer.text)
        assert await directive_count(api) == before, body


async def test_a_body_over_64_kib_is_refused_with_413(api: ApiClient) -> None:
    before = await directive_count(api)
    body = {
        "title": unique_title(),
        "body": "x" * 70_000,
        "deadline": iso7(in_days(10)),
        "communes": COMMUNES,
    }

    answer = await api.request("POST", DIRECTIVES, json=body)

    assert answer.status_code == 413
    assert answer.json() == {"detail": "the request body is larger than 65536 bytes"}
    assert await directive_count(api) == before


async def test_only_the_steering_office_issues_amends_and_recalls(api: ApiClient) -> None:
    directive = await issue(api)
    path = f"{DIRECTIVES}/{directive['id']}"
    before = await directive_count(api)
    new = {
        "title": unique_title(),
        "body": "B.",
        "deadline": iso7(in_days(9)),
        "communes": COMMUNES,
    }

    assert (await api.http.post(DIRECTIVES, json=new)).status_code == 401
    bad = await api.request("PATCH", path, token="axis_not-a-token", json={"body": "Khác."})
    assert bad.status_code == 401
    assert bad.json() == {"detail": "the token is unknown or revoked"}

    for role, commune in (
        ("commune_leader", "24133"),
        ("reader", None),
        ("official_in_charge", None),
    ):
        token = await api.token(role, commune)
        refusals = [
            await api.request("POST", DIRECTIVES, token=token, json=new),
            await api.request("PATCH", path, token=token, json={"body": "Nội dung khác."}),
            await api.request("POST", f"{path}/recall", token=token, json={"reason": "Thử."}),
        ]
        for answer in refusals:
            assert answer.status_code == 403, (role, answer.text)
            assert answer.json() == {"detail": "this action is for the role(s): steering_office"}
        read = await api.request("GET", path, token=token)
        assert read.status_code == 200, (role, read.text)
        assert read.json()["revision"] == 1
        assert read.json()["status"] == "active"
        assert read.json()["body"] == directive["body"]
        listing = await api.request("GET", DIRECTIVES, token=token)
        assert listing.status_code == 200
        assert directive["id"] in [d["id"] for d in listing.json()["data"]]

    assert await directive_count(api) == before


# ---- amend ---------------------------------------------------------------------------------


async def test_amending_the_text_asks_every_open_commune_to_acknowledge_again(
    api: ApiClient,
) -> None:
    acknowledged, untouched, done = COMMUNES
    directive = await issue(api)
    directive_id = directive["id"]
    await opened(api, directive_id)
    token = await api.token("commune_leader", acknowledged)
    assert (await act(api, token, directive_id, acknowledged, "acknowledge")).status_code == 200
    done_token = await api.token("commune_leader", done)
    report = {"summary": "Đã xong.", "evidence": []}
    assert (await act(api, done_token, directive_id, done, "report", report)).status_code == 200
    review = {"decision": "accept", "comment": ""}
    assert (
        await act(api, api.admin_token, directive_id, done, "review", review)
    ).status_code == 200
    await finished(api, directive_id, done)

    answer = await api.request(
        "PATCH", f"{DIRECTIVES}/{directive_id}", json={"body": "Nội dung đã điều chỉnh."}
    )

    assert answer.status_code == 200, answer.text
    amended = answer.json()
    assert amended["revision"] == 2
    assert amended["body"] == "Nội dung đã điều chỉnh."
    assert amended["title"] == directive["title"]
    assert amended["deadline"] == directive["deadline"]
    assert amended["status"] == "active"

    async def relayed() -> dict[str, dict[str, Any]]:
        found = await assignments_of(api, directive_id)
        assert [found[c]["revision"] for c in COMMUNES] == [2, 2, 1], found
        return found

    found = await eventually(relayed)
    for code in (acknowledged, untouched):
        assert found[code]["status"] == "notified", code
        assert found[code]["needs_acknowledgement"] is True, code
        assert found[code]["acknowledged_revision"] == (1 if code == acknowledged else 0)
        assert found[code]["deadline"] == directive["deadline"]
    assert found[done]["status"] == "completed"
    assert found[done]["needs_acknowledgement"] is False
    detail = await api.request("GET", f"{DIRECTIVES}/{directive_id}/assignments/{acknowledged}")
    assert [e["kind"] for e in detail.json()["events"]] == ["acknowledged", "amended"]
    assert detail.json()["events"][1]["detail"] == {"revision": "2", "content_changed": "true"}

    sent = await notifications(api, directive_id=directive_id, kind="amended")
    assert sent["count"] == 2
    assert sorted(n["commune_code"] for n in sent["data"]) == [acknowledged, untouched]
    assert {n["step"] for n in sent["data"]} == {"rev-2"}
    assert {n["subject"] for n in sent["data"]} == {f"[Điều chỉnh] {directive['title']}"}
    assert all("Nội dung đã điều chỉnh." in n["body"] for n in sent["data"])
    again = await act(api, token, directive_id, acknowledged, "acknowledge")
    assert again.status_code == 200
    assert again.json()["already_acknowledged"] is False
    assert again.json()["status"] == "acknowledged"
    assert again.json()["acknowledged_revision"] == 2


async def test_amending_only_the_deadline_keeps_acknowledgements(api: ApiClient) -> None:
    acknowledged, untouched = COMMUNES[:2]
    directive = await issue(api, communes=[acknowledged, untouched])
    directive_id = directive["id"]
    await opened(api, directive_id)
    token = await api.token("commune_leader", acknowledged)
    assert (await act(api, token, directive_id, acknowledged, "acknowledge")).status_code == 200
    later = in_days(15)

    answer = await api.request(
        "PATCH", f"{DIRECTIVES}/{directive_id}", json={"deadline": iso7(later)}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["revision"] == 2
    assert parse(answer.json()["deadline"]) == later
    assert answer.json()["body"] == directive["body"]

    async def relayed() -> dict[str, dict[str, Any]]:
        found = await assignments_of(api, directive_id)
        assert {c: a["revision"] for c, a in found.items()} == {acknowledged: 2, untouched: 2}
        return found

    found = await eventually(relayed)
    assert found[acknowledged]["status"] == "acknowledged"
    assert found[acknowledged]["acknowledged_revision"] == 2
    assert found[acknowledged]["needs_acknowledgement"] is False
    assert found[untouched]["status"] == "notified"
    assert found[untouched]["needs_acknowledgement"] is True
    for a in found.values():
        assert parse(a["deadline"]) == later
        assert parse(a["original_deadline"]) == later
        assert a["timeliness"] == "within_deadline"
    sent = await notifications(api, directive_id=directive_id, kind="amended")
    assert sorted(n["commune_code"] for n in sent["data"]) == [acknowledged, untouched]
    again = await act(api, token, directive_id, acknowledged, "acknowledge")
    assert again.status_code == 200
    assert again.json()["already_acknowledged"] is True


async def test_an_amendment_must_change_something_and_keep_the_deadline_ahead(
    api: ApiClient,
) -> None:
    directive = await issue(api)
    path = f"{DIRECTIVES}/{directive['id']}"

    for body in ({}, {"title": None, "body": None, "deadline": None}):
        answer = await api.request("PATCH", path, json=body)
        assert answer.status_code == 422, answer.text
        assert "give at least one of title, body and deadline" in answer.json()["detail"]
    unknown = await api.request("PATCH", path, json={"communes": ["24133"]})
    assert unknown.status_code == 422
    assert "communes: Extra inputs are not permitted" in unknown.json()["detail"]
    past = await api.request("PATCH", path, json={"deadline": iso7(in_days(-1))})
    assert past.status_code == 422, past.text
    assert past.json()["detail"] == "the deadline is in the past"
    missing = await api.request("PATCH", f"{DIRECTIVES}/999999999", json={"body": "Khác."})
    assert missing.status_code == 404
    assert missing.json() == {"detail": "directive 999999999 not found"}
    read = (await api.request("GET", path)).json()
    assert (read["revision"], read["deadline"]) == (1, directive["deadline"])


# ---- recall --------------------------------------------------------------------------------


async def test_recalling_cancels_every_open_assignment_and_leaves_completed_ones(
    api: ApiClient,
) -> None:
    done, acknowledged, untouched = COMMUNES
    directive = await issue(api)
    directive_id = directive["id"]
    await opened(api, directive_id)
    done_token = await api.token("commune_leader", done)
    report = {"summary": "Đã xong.", "evidence": ["https://example.invalid/bien-ban.pdf"]}
    assert (await act(api, done_token, directive_id, done, "report", report)).status_code == 200
    review = {"decision": "accept", "comment": ""}
    assert (
        await act(api, api.admin_token, directive_id, done, "review", review)
    ).status_code == 200
    await finished(api, directive_id, done)
    token = await api.token("commune_leader", acknowledged)
    assert (await act(api, token, directive_id, acknowledged, "acknowledge")).status_code == 200

    answer = await api.request(
        "POST", f"{DIRECTIVES}/{directive_id}/recall", json={"reason": "Đã có văn bản thay thế."}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "recalled"

    async def cancelled() -> dict[str, dict[str, Any]]:
        found = await assignments_of(api, directive_id)
        statuses = {c: a["status"] for c, a in found.items()}
        assert statuses == {done: "completed", acknowledged: "cancelled", untouched: "cancelled"}
        return found

    found = await eventually(cancelled)
    assert found[done]["timeliness"] == "on_time"
    assert {a["needs_acknowledgement"] for a in found.values()} == {False}
    read = (await api.request("GET", f"{DIRECTIVES}/{directive_id}")).json()
    assert read["status"] == "recalled"
    assert read["counts"] == counts(3, completed=1, cancelled=2, on_time=1, within_deadline=2)

    # Each assignment records its cancellation, then its notice: the notices may trail.
    async def recall_notices() -> dict[str, Any]:
        sent = await notifications(api, directive_id=directive_id, kind="recalled")
        assert sorted(n["commune_code"] for n in sent["data"]) == [acknowledged, untouched]
        return sent

    sent = await eventually(recall_notices)
    assert all("Lý do: Đã có văn bản thay thế." in n["body"] for n in sent["data"])

    late = await act(api, token, directive_id, acknowledged, "acknowledge")
    assert late.status_code == 409
    assert late.json() == {"detail": "the assignment is cancelled"}
    untouched_token = await api.token("commune_leader", untouched)
    late_report = await act(api, untouched_token, directive_id, untouched, "report", report)
    assert late_report.status_code == 409
    assert late_report.json() == {"detail": "the assignment is cancelled"}
    second = await api.request("POST", f"{DIRECTIVES}/{directive_id}/recall", json={})
    assert second.status_code == 409
    assert second.json() == {"detail": "the directive is recalled"}
    amend = await api.request("PATCH", f"{DIRECTIVES}/{directive_id}", json={"body": "Khác."})
    assert amend.status_code == 409
    assert amend.json() == {"detail": "the directive is recalled"}


# ---- what a commune leader sees ------------------------------------------------------------


async def test_a_commune_leader_sees_only_directives_addressed_to_their_commune(
    api: ApiClient,
) -> None:
    mine = await issue(api, communes=["24121", "24133", "24175"])
    other = await issue(api, communes=["24121", "24175"])
    token = await api.token("commune_leader", "24133")

    answer = await api.request("GET", DIRECTIVES, token=token, params={"limit": 500})

    assert answer.status_code == 200
    listing = answer.json()
    ids = [d["id"] for d in listing["data"]]
    assert mine["id"] in ids
    assert other["id"] not in ids
    assert listing["count"] == len(ids)
    assert {d["counts"]["total"] for d in listing["data"]} == {1}
    listed = next(d for d in listing["data"] if d["id"] == mine["id"])
    assert listed["counts"] == counts(1, notified=1, within_deadline=1)
    office = (await api.request("GET", DIRECTIVES, params={"limit": 500})).json()
    assert set(ids) <= {d["id"] for d in office["data"]}
    assert office["count"] > listing["count"]

    read = await api.request("GET", f"{DIRECTIVES}/{mine['id']}", token=token)
    assert read.status_code == 200
    assert read.json()["counts"] == counts(1, notified=1, within_deadline=1)
    hidden = await api.request("GET", f"{DIRECTIVES}/{other['id']}", token=token)
    assert hidden.status_code == 404
    assert hidden.json() == {"detail": f"directive {other['id']} not found"}
    hidden_list = await api.request("GET", f"{DIRECTIVES}/{other['id']}/assignments", token=token)
    assert hidden_list.status_code == 404
    own = await api.request("GET", f"{DIRECTIVES}/{mine['id']}/assignments", token=token)
    assert own.status_code == 200
    assert own.json()["count"] == 1
    assert [a["commune_code"] for a in own.json()["data"]] == ["24133"]
