"""The procedure catalogue and dossiers over HTTP with real tokens, on the Temporal dev server:
who may edit and receive, the due time in the answer, Idempotency-Key, the steps and their
refusals, and that no commune leader sees or moves another commune's dossiers."""

from __future__ import annotations

from typing import Any

from tests.api.test_directives_api import eventually
from tests.conftest import ApiClient

PROCEDURES = "/api/v1/procedures"
DOSSIERS = "/api/v1/dossiers"
OWN_COMMUNE_ONLY = {"detail": "a commune leader acts on their own commune only"}
# Thủ tục đăng ký giám hộ: 3 working days.
THREE_WORKING_DAYS = "1.004837"


def dossier_body(commune: str = "24133", **changes: Any) -> dict[str, Any]:
    # Mon 23 Nov 2026; Tue 24 Nov is Vietnam Cultural Day, so Wed 25, Thu 26, Fri 27 Nov.
    body: dict[str, Any] = {
        "procedure_code": THREE_WORKING_DAYS,
        "commune_code": commune,
        "received_at": "2026-11-23T09:00:00+07:00",
        "applicant_reference": "Trần Thị B",
        "applicant_contact": "tran.b@example.invalid",
    }
    return {**body, **changes}


async def test_the_catalogue_lists_every_limit_with_its_unit(api: ApiClient) -> None:
    answer = await api.request("GET", PROCEDURES)
    assert answer.status_code == 200, answer.text
    procedures = {p["code"]: p for p in answer.json()["data"]}
    assert answer.json()["count"] == len(procedures) >= 30
    assert (
        procedures["1.010038"]["processing_days"],
        procedures["1.010038"]["processing_unit"],
    ) == (
        5,
        "working_days",
    )
    assert procedures["1.001193"]["processing_unit"] == "same_day"
    assert procedures["1.012812"]["processing_unit"] == "calendar_days"
    blank = procedures["2.001035"]
    assert (blank["processing_days"], blank["processing_unit"], blank["verified"]) == (
        None,
        None,
        False,
    )
    assert blank["source"].startswith("github:hdtruong802/")


async def test_the_steering_office_adds_and_edits_procedures(api: ApiClient) -> None:
    leader = await api.token("commune_leader", "24133")
    body = {
        "code": "9.000001",
        "name": "Thủ tục thử nghiệm",
        "level": "province",
        "processing_days": 4,
        "processing_unit": "working_days",
    }
    refused = await api.request("POST", PROCEDURES, token=leader, json=body)
    assert refused.status_code == 403
    bad = await api.request("POST", PROCEDURES, json={**body, "processing_unit": "same_day"})
    assert bad.status_code == 422
    assert "a same-day procedure takes no processing_days" in bad.json()["detail"]
    bare = await api.request("POST", PROCEDURES, json={**body, "processing_unit": None})
    assert bare.status_code == 422
    created = await api.request("POST", PROCEDURES, json=body)
    assert created.status_code == 201, created.text
    assert (created.json()["level"], created.json()["processing_days"]) == ("province", 4)
    again = await api.request("POST", PROCEDURES, json=body)
    assert again.status_code == 409
    patched = await api.request("PATCH", f"{PROCEDURES}/9.000001", json={"processing_days": 6})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["processing_days"], patched.json()["processing_unit"]) == (
        6,
        "working_days",
    )
    same_day = await api.request(
        "PATCH", f"{PROCEDURES}/9.000001", json={"processing_unit": "same_day"}
    )
    assert (same_day.json()["processing_days"], same_day.json()["processing_unit"]) == (
        None,
        "same_day",
    )
    calendar = await api.request(
        "PATCH", f"{PROCEDURES}/9.000001", json={"processing_unit": "calendar_days"}
    )
    assert calendar.status_code == 422
    assert calendar.json()["detail"] == "a limit in calendar_days needs processing_days"


async def test_a_dossier_is_received_with_its_due_time_and_moves_through_its_steps(
    api: ApiClient,
) -> None:
    leader = await api.token("commune_leader", "24133")
    other = await api.token("commune_leader", "24121")
    reader = await api.token("reader")
    headers = {"Idempotency-Key": "dossier-test-1-" + api.admin_token[-8:]}
    first = await api.request("POST", DOSSIERS, token=leader, json=dossier_body(), headers=headers)
    assert first.status_code == 201, first.text
    dossier = first.json()
    assert dossier["due_at"] == "2026-11-27T10:00:00Z"
    assert (dossier["processing_unit"], dossier["status"]) == ("working_days", "received")
    assert len(dossier["receipt_code"]) == 13
    again = await api.request("POST", DOSSIERS, token=leader, json=dossier_body(), headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == dossier["id"]
    changed = await api.request(
        "POST", DOSSIERS, token=leader, json=dossier_body(applicant_reference="X"), headers=headers
    )
    assert changed.status_code == 422

    # Another commune's leader can neither receive for this commune nor see or move it.
    assert (await api.request("POST", DOSSIERS, token=other, json=dossier_body())).json() == (
        OWN_COMMUNE_ONLY
    )
    path = f"{DOSSIERS}/{dossier['id']}"
    for method, suffix in (("GET", ""), ("POST", "/start"), ("POST", "/result-ready")):
        # Exactly the answer for a dossier that does not exist: ids cannot be probed.
        answer = await api.request(method, path + suffix, token=other)
        assert (answer.status_code, answer.json()) == (
            404,
            {"detail": f"dossier {dossier['id']} not found"},
        )
        missing = await api.request(method, f"{DOSSIERS}/999999999{suffix}", token=other)
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "dossier 999999999 not found"},
        )
    theirs = await api.request("GET", DOSSIERS, token=other)
    assert dossier["id"] not in [d["id"] for d in theirs.json()["data"]]
    assert (
        await api.request("GET", f"{DOSSIERS}?commune_code=24133", token=other)
    ).status_code == 403
    assert (await api.request("POST", path + "/start", token=reader)).status_code == 403

    async def escalated_twice() -> None:
        # Received past its due time: the apology, overdue and both steps of the ladder (one
        # and three days after the due time) are all in the past and fire at once.
        answer = await api.request("GET", path, token=leader)
        assert (answer.json()["escalation_level"], answer.json()["timeliness"]) == (2, "overdue")

    await eventually(escalated_twice)
    started = await api.request("POST", path + "/start", token=leader)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "processing"
    twice = await api.request("POST", path + "/start", token=leader)
    assert twice.status_code == 409
    assert twice.json() == {
        "detail": "processing starts from a received dossier: the dossier is processing"
    }
    no_reason = await api.request("POST", path + "/refuse", token=leader, json={})
    assert no_reason.status_code == 409
    moved = await api.request(
        "POST", path + "/transfer", token=leader, json={"to_level": "province"}
    )
    assert moved.json()["level"] == "province"
    ready = await api.request("POST", path + "/result-ready", token=leader)
    # Due Fri 27 Nov 2026 and ready now (after it): late.
    assert (ready.json()["status"], ready.json()["timeliness"]) == ("result_ready", "late")
    returned = await api.request("POST", path + "/returned", token=leader)
    assert returned.json()["status"] == "returned"
    closed = await api.request("POST", path + "/start", token=leader)
    assert closed.status_code == 409

    detail = await api.request("GET", path, token=leader)
    kinds = [e["kind"] for e in detail.json()["events"]]
    assert kinds == [
        "received",
        "apology_sent",
        "overdue",
        "escalated",
        "escalated",
        "processing",
        "transferred",
        "result_ready",
        "returned",
    ]
    mine = await api.request("GET", f"{DOSSIERS}?timeliness=late", token=leader)
    assert dossier["id"] in [d["id"] for d in mine.json()["data"]]

    case = f"dossier-{dossier['id']}"

    async def one_apology() -> None:
        messages = await api.request(
            "GET", "/api/v1/notifications?commune_code=24133&limit=500", token=leader
        )
        apologies = [
            n
            for n in messages.json()["data"]
            if n["case_id"] == case and n["kind"] == "dossier_apology"
        ]
        # The applicant's contact, name and receipt code are the steering office's to read.
        assert [
            (n["recipient"], n["directive_id"], n["subject"], n["body"], n["withheld"])
            for n in apologies
        ] == [(None, None, "", "", True)]
        assert apologies[0]["idempotency_key"] == f"notify:{case}:dossier_apology:apology:applicant"
        assert "tran.b@example.invalid" not in messages.text
        assert "Trần Thị B" not in messages.text

    await eventually(one_apology)
    for token in (reader, await api.token("official_in_charge")):
        seen = await api.request(
            "GET", "/api/v1/notifications", token=token, params={"case_id": case}
        )
        assert "tran.b@example.invalid" not in seen.text
        assert {n["withheld"] for n in seen.json()["data"] if n["kind"] == "dossier_apology"} == {
            True
        }
    office = await api.request(
        "GET", "/api/v1/notifications", params={"case_id": case, "kind": "dossier_apology"}
    )
    assert office.json()["count"] == 1
    apology = office.json()["data"][0]
    assert (apology["recipient"], apology["recipient_role"], apology["withheld"]) == (
        "tran.b@example.invalid",
        "applicant",
        False,
    )
    assert apology["subject"].startswith("Phiếu xin lỗi và hẹn lại ngày trả kết quả")
    assert "Trần Thị B" in apology["body"]


async def test_bad_dossiers_are_refused_and_change_nothing(api: ApiClient) -> None:
    before = (await api.request("GET", DOSSIERS)).json()["count"]
    cases = [
        (dossier_body(procedure_code="0.000000"), "unknown procedure code: 0.000000"),
        (dossier_body(commune_code="99999"), "unknown commune code: 99999"),
        (dossier_body(received_at="2099-01-01T09:00:00+07:00"), "received_at is in the future"),
    ]
    for body, message in cases:
        answer = await api.request("POST", DOSSIERS, json=body)
        assert (answer.status_code, answer.json()["detail"]) == (422, message)
    unverified = await api.request("POST", DOSSIERS, json=dossier_body(procedure_code="1.013978"))
    assert unverified.status_code == 422
    assert unverified.json()["detail"].startswith(
        "procedure 1.013978 has no verified processing limit"
    )
    naive = await api.request("POST", DOSSIERS, json=dossier_body(received_at="2026-11-23T09:00"))
    assert naive.status_code == 422
    assert (await api.request("GET", DOSSIERS)).json()["count"] == before


async def test_a_communes_own_limit_sets_its_dossiers_due_time(api: ApiClient) -> None:
    # Đính chính Giấy chứng nhận: 8 working days, 18 in remote communes. Ea Súp gets 18.
    path = f"{PROCEDURES}/1.115320/communes/24211"
    leader = await api.token("commune_leader", "24211")
    assert (await api.request("PUT", path, token=leader, json={})).status_code == 403
    body = {"processing_days": 18, "processing_unit": "working_days"}
    answer = await api.request("PUT", path, json=body)
    assert answer.status_code == 200, answer.text
    assert (await api.request("PUT", path, json=body)).status_code == 200
    remote = await api.request(
        "POST", DOSSIERS, json=dossier_body("24211", procedure_code="1.115320")
    )
    town = await api.request(
        "POST", DOSSIERS, json=dossier_body("24133", procedure_code="1.115320")
    )
    # From Mon 23 Nov 2026 (Tue 24 off): 8 working days end Fri 4 Dec; 18 end Fri 18 Dec.
    assert town.json()["due_at"] == "2026-12-04T10:00:00Z"
    assert remote.json()["due_at"] == "2026-12-18T10:00:00Z"


async def test_notifications_filter_by_case_and_by_the_case_kinds(api: ApiClient) -> None:
    # Two dossiers received past their due time (Fri 27 Nov 2026): each gets the apology and
    # both steps of the ladder at once.
    first = (await api.request("POST", DOSSIERS, json=dossier_body())).json()
    second = (await api.request("POST", DOSSIERS, json=dossier_body())).json()
    cases = [f"dossier-{first['id']}", f"dossier-{second['id']}"]

    async def listed(**params: str) -> dict[str, Any]:
        answer = await api.request(
            "GET", "/api/v1/notifications", params={"limit": "500", **params}
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def both_escalated() -> None:
        for case in cases:
            steps = await listed(case_id=case, kind="dossier_escalation")
            assert {n["step"] for n in steps["data"]} == {"level-1", "level-2"}

    await eventually(both_escalated)
    for case in cases:
        everything = await listed(case_id=case)
        assert {n["case_id"] for n in everything["data"]} == {case}
        by_kind = {
            kind: (await listed(case_id=case, kind=kind))["count"]
            for kind in ("dossier_apology", "dossier_escalation", "dossier_reminder")
        }
        assert by_kind["dossier_apology"] == 1
        assert by_kind["dossier_escalation"] >= 2
        assert everything["count"] == sum(by_kind.values())
        apology = (await listed(case_id=case, kind="dossier_apology"))["data"][0]
        assert (apology["case_id"], apology["recipient"]) == (case, "tran.b@example.invalid")
    escalations = await listed(kind="dossier_escalation", commune_code="24133")
    assert {n["case_id"] for n in escalations["data"]} >= set(cases)
    assert {n["kind"] for n in escalations["data"]} == {"dossier_escalation"}
    elsewhere = await api.token("commune_leader", "24175")
    theirs = await api.request(
        "GET", "/api/v1/notifications", token=elsewhere, params={"case_id": cases[0]}
    )
    assert theirs.json() == {"data": [], "count": 0}
    bad = await api.request("GET", "/api/v1/notifications", params={"kind": "dossier_lost"})
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("unknown kind 'dossier_lost' (known: issued, reminder")
    assert "dossier_apology" in bad.json()["detail"]
