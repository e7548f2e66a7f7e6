"""Citizens without signing in: a receipt code shows a case's status and nothing personal;
every wrong code gets the same 404; an address that tries too many gets 429. The public form
files a feedback; the citizen rates the answer once."""

from __future__ import annotations

import re

from services.receipts import display
from tests.api.test_directives_api import eventually
from tests.api.test_procedures_api import DOSSIERS, dossier_body
from tests.conftest import ApiClient

LOOKUP = "/api/v1/lookup"
# AXIS_LOOKUP_MAX_FAILURES
ALLOWED_FAILURES = 10


async def test_a_receipt_code_reveals_the_status_and_nothing_personal(api: ApiClient) -> None:
    created = await api.request("POST", DOSSIERS, json=dossier_body())
    code = created.json()["receipt_code"]
    answer = await api.http.get(f"{LOOKUP}/{display(code).lower()}")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert set(found) == {
        "kind", "status", "timeliness", "received_at", "due_at", "appointment_at",
        "finished_at", "procedure_name", "service_name", "commune_name", "answer", "rating",
    }  # fmt: skip
    assert (found["kind"], found["procedure_name"], found["commune_name"]) == (
        "dossier",
        "Thủ tục đăng ký giám hộ",
        "Phường Buôn Ma Thuột",
    )
    assert found["due_at"] == "2026-11-27T10:00:00Z"
    text = answer.text
    assert "Trần Thị B" not in text and "tran.b" not in text
    assert str(created.json()["id"]) not in re.sub(r"\d{4}-\d\d-\d\dT[\d:]+Z", "", text)

    page = await api.http.get("/tra-cuu", params={"code": code})
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    assert "Thủ tục đăng ký giám hộ" in page.text and "Trần Thị B" not in page.text
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]


async def test_wrong_codes_all_get_the_same_404_and_enumeration_gets_429(api: ApiClient) -> None:
    created = await api.request("POST", DOSSIERS, json=dossier_body())
    real = created.json()["receipt_code"]
    # Well-formed codes that exist nowhere, a bad check character, garbage: one answer.
    wrong = [
        "0000000000000",
        real[:-1] + ("0" if real[-1] != "0" else "1"),
        "not-a-code",
        "ZZZZZZZZZZZZZ",
        "A" * 40,
    ]
    answers = [await api.http.get(f"{LOOKUP}/{code}") for code in wrong]
    assert {(a.status_code, a.text) for a in answers} == {
        (404, '{"detail":"no dossier or feedback has this receipt code"}')
    }
    for i in range(ALLOWED_FAILURES - len(wrong)):
        assert (await api.http.get(f"{LOOKUP}/00000000000{i:02d}")).status_code == 404
    # The eleventh wrong code, and then even the right one, from this address: 429.
    refused = await api.http.get(f"{LOOKUP}/0000000000000")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert (await api.http.get(f"{LOOKUP}/{real}")).status_code == 429
    page = await api.http.get("/tra-cuu", params={"code": real})
    assert page.status_code == 429
    # A header cannot pose as another address: the connection's address counts.
    disguised = await api.http.get(f"{LOOKUP}/{real}", headers={"X-Forwarded-For": "1.2.3.4"})
    assert disguised.status_code == 429


async def test_the_public_form_files_a_feedback_and_the_citizen_rates_the_answer(
    api: ApiClient,
) -> None:
    form = await api.http.get("/gop-y")
    assert form.status_code == 200
    assert '<html lang="vi">' in form.text and 'action="/gop-y"' in form.text
    # No script, and nothing from another origin: its one stylesheet is the server's own.
    assert "<script" not in form.text
    assert re.findall(r"<link[^>]*>", form.text) == [
        '<link rel="stylesheet" href="/static/public.css">'
    ]
    assert (await api.http.get("/static/public.css")).status_code == 200
    empty = await api.http.post("/gop-y", data={"description": ""})
    assert empty.status_code == 400 and "description is required" in empty.text
    filed = await api.http.post(
        "/gop-y",
        data={
            "description": "Rác thải ùn ứ cuối hẻm 20 Lê Duẩn, mùi hôi",
            "address_string": "TP Buôn Ma Thuột",
            "email": "dan@example.invalid",
        },
    )
    assert filed.status_code == 201, filed.text
    [code] = re.findall(r'class="code">([0-9A-Z-]+)<', filed.text)

    async def routed() -> dict[str, object]:
        answer = await api.http.get(f"{LOOKUP}/{code}")
        assert answer.json()["status"] == "routed"
        return dict(answer.json())

    found = await eventually(routed)
    assert (found["kind"], found["service_name"], found["commune_name"]) == (
        "feedback",
        "Rác thải, vệ sinh môi trường",
        "Phường Buôn Ma Thuột",
    )
    early = await api.http.post(f"{LOOKUP}/{code}/rating", json={"rating": 5})
    assert early.status_code == 409
    listed = await api.request("GET", "/api/v1/feedback?commune_code=24133&status=routed")
    [feedback] = [f for f in listed.json()["data"] if "Lê Duẩn" in f["description"]]
    leader = await api.token("commune_leader", "24133")
    answered = await api.request(
        "POST",
        f"/api/v1/feedback/{feedback['id']}/answer",
        token=leader,
        json={"text": "Đã thu gom ngày hôm sau."},
    )
    assert answered.status_code == 200, answered.text
    bad = await api.http.post(f"{LOOKUP}/{code}/rating", json={"rating": 0})
    assert bad.status_code == 422
    rated = await api.http.post(f"{LOOKUP}/{code}/rating", json={"rating": 4})
    assert rated.status_code == 200, rated.text
    assert (rated.json()["rating"], rated.json()["answer"]) == (4, "Đã thu gom ngày hôm sau.")
    twice = await api.http.post(f"{LOOKUP}/{code}/rating", json={"rating": 1})
    assert twice.status_code == 409
    dossier_code = (await api.request("POST", DOSSIERS, json=dossier_body())).json()["receipt_code"]
    not_feedback = await api.http.post(f"{LOOKUP}/{dossier_code}/rating", json={"rating": 3})
    assert not_feedback.json() == {"detail": "only the answer to a feedback is rated"}
