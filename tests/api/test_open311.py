"""Open311 GeoReport v2 as a GeoReport client uses it: no token, form-encoded POST, JSON arrays,
errors as `[{"code": …, "description": …}]`, `jurisdiction_id`, `agency_responsible`; then the
commune's handling: only the commune it is routed to sees, forwards and answers it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from config import Settings
from tests.api.test_directives_api import eventually
from tests.conftest import ApiClient, running_worker, temporal_address

ROOT = "/api/v1/open311"
EA_KAR, TAN_AN, TAN_LAP = "24373", "24163", "24121"
OWN_COMMUNE_ONLY = {"detail": "a commune leader acts on their own commune only"}


async def post_request(http: httpx.AsyncClient, **fields: str) -> httpx.Response:
    # httpx sends `data=` form-encoded (application/x-www-form-urlencoded), as the spec says.
    return await http.post(f"{ROOT}/requests.json", data=fields)


async def routed(api: ApiClient, request_id: str) -> dict[str, Any]:
    """The request once its workflow has recorded where it went."""

    async def check() -> dict[str, Any]:
        staff = await api.request("GET", f"/api/v1/feedback/{request_id}")
        assert staff.json()["status"] == "routed"
        answer = await api.http.get(f"{ROOT}/requests/{request_id}.json")
        assert answer.status_code == 200, answer.text
        [found] = answer.json()
        return dict(found)

    return await eventually(check)


async def test_services_are_listed_and_defined(api: ApiClient) -> None:
    http = api.http
    services = await http.get(f"{ROOT}/services.json", params={"jurisdiction_id": "daklak.gov.vn"})
    assert services.status_code == 200
    codes = [s["service_code"] for s in services.json()]
    assert codes == ["lighting", "roads", "waste", "water", "order", "public_service", "other"]
    assert set(services.json()[0]) == {
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
    }  # fmt: skip
    definition = await http.get(f"{ROOT}/services/roads.json")
    assert definition.json()["service_code"] == "roads"
    [attribute] = definition.json()["attributes"]
    assert (attribute["code"], attribute["datatype"], len(attribute["values"])) == (
        "commune_code",
        "singlevaluelist",
        102,
    )
    missing = await http.get(f"{ROOT}/services/nope.json")
    assert (missing.status_code, missing.json()) == (
        404,
        [{"code": 404, "description": "service_code nope not found"}],
    )
    elsewhere = await http.get(f"{ROOT}/services.json", params={"jurisdiction_id": "hanoi.gov.vn"})
    assert (elsewhere.status_code, elsewhere.json()) == (
        404,
        [{"code": 404, "description": "jurisdiction_id hanoi.gov.vn is not served here"}],
    )


async def test_a_request_in_vietnamese_without_a_commune_reaches_the_commune(
    api: ApiClient,
) -> None:
    http = api.http
    filed = await post_request(
        http,
        jurisdiction_id="daklak.gov.vn",
        description="Đèn đường trước chợ xã Ea Kar tắt cả tuần nay, buổi tối rất nguy hiểm",
        lat="12.8",
        long="108.45",
        email="cong.dan@example.invalid",
        first_name="Lê",
        last_name="Văn C",
    )
    assert filed.status_code == 200, filed.text
    [receipt] = filed.json()
    assert set(receipt) == {"service_request_id", "service_notice", "account_id", "receipt_code"}
    request_id = receipt["service_request_id"]
    found = await routed(api, request_id)
    assert (found["service_code"], found["service_name"], found["agency_responsible"]) == (
        "lighting",
        "Đèn chiếu sáng công cộng",
        "Xã Ea Kar",
    )
    assert (found["status"], found["lat"], found["long"]) == ("open", 12.8, 108.45)
    assert found["expected_datetime"].endswith("17:00:00+07:00")
    # Personal data never leaves through Open311.
    assert "cong.dan" not in str(found) and "Văn C" not in str(found)

    listed = await http.get(
        f"{ROOT}/requests.json", params={"service_code": "lighting", "status": "open"}
    )
    assert request_id in [r["service_request_id"] for r in listed.json()]
    closed = await http.get(f"{ROOT}/requests.json", params={"status": "closed"})
    assert request_id not in [r["service_request_id"] for r in closed.json()]
    by_id = await http.get(f"{ROOT}/requests.json", params={"service_request_id": request_id})
    assert [r["service_request_id"] for r in by_id.json()] == [request_id]
    before = await http.get(
        f"{ROOT}/requests.json", params={"end_date": "2000-01-01T00:00:00+07:00"}
    )
    assert before.json() == []

    # The commune answers; the request closes with the answer as its status_notes.
    feedback_path = f"/api/v1/feedback/{request_id}"
    other = await api.token("commune_leader", TAN_AN)
    leader = await api.token("commune_leader", EA_KAR)
    assert (await api.request("GET", feedback_path, token=other)).json() == OWN_COMMUNE_ONLY
    refused = await api.request(
        "POST", f"{feedback_path}/answer", token=other, json={"text": "Không phải của tôi"}
    )
    assert (refused.status_code, refused.json()) == (403, OWN_COMMUNE_ONLY)
    theirs = await api.request("GET", "/api/v1/feedback", token=other)
    assert int(request_id) not in [f["id"] for f in theirs.json()["data"]]
    detail = await api.request("GET", feedback_path, token=leader)
    assert "email" not in detail.json() and detail.json()["commune_code"] == EA_KAR
    answered = await api.request(
        "POST", f"{feedback_path}/answer", token=leader, json={"text": "Đã thay bóng đèn."}
    )
    assert answered.status_code == 200, answered.text
    assert (answered.json()["status"], answered.json()["answered_on_time"]) == ("answered", True)
    again = await api.request(
        "POST", f"{feedback_path}/answer", token=leader, json={"text": "Lần hai"}
    )
    assert again.status_code == 409
    [after] = (await http.get(f"{ROOT}/requests/{request_id}.json")).json()
    assert (after["status"], after["status_notes"]) == ("closed", "Đã thay bóng đèn.")


async def test_a_misrouted_request_is_forwarded_by_its_commune_only(api: ApiClient) -> None:
    http = api.http
    filed = await post_request(
        http, description="mat nuoc 3 ngay nay", address_string="phuong tan an"
    )
    request_id = filed.json()[0]["service_request_id"]
    assert (await routed(api, request_id))["agency_responsible"] == "Phường Tân An"
    path = f"/api/v1/feedback/{request_id}/forward"
    bystander = await api.token("commune_leader", TAN_LAP)
    refused = await api.request("POST", path, token=bystander, json={"to_commune": TAN_LAP})
    assert (refused.status_code, refused.json()) == (403, OWN_COMMUNE_ONLY)
    receiver = await api.token("commune_leader", TAN_AN)
    bad = await api.request("POST", path, token=receiver, json={"to_commune": "99999"})
    assert (bad.status_code, bad.json()) == (422, {"detail": "unknown commune code: 99999"})
    moved = await api.request(
        "POST", path, token=receiver, json={"to_commune": TAN_LAP, "reason": "địa bàn Tân Lập"}
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["commune_code"], moved.json()["forwarded"]) == (TAN_LAP, 1)
    [found] = (await http.get(f"{ROOT}/requests/{request_id}.json")).json()
    assert found["agency_responsible"] == "Phường Tân Lập"
    # Now it is Tân Lập's: Tân An can no longer see or forward it.
    gone = await api.request("POST", path, token=receiver, json={"to_commune": EA_KAR})
    assert gone.status_code == 403


async def test_bad_requests_answer_in_the_specs_error_shape(api: ApiClient) -> None:
    http = api.http
    cases = [
        ({"service_code": "roads"}, "description is required"),
        ({"description": "ổ gà", "service_code": "nope"}, "service_code nope not found"),
        (
            {"description": "ổ gà", "attribute[commune_code]": "99999"},
            "attribute[commune_code] 99999 is not a commune of the province",
        ),
        ({"description": "ổ gà", "lat": "north"}, "lat and long must be decimal degrees"),
        ({"description": "x" * 4001}, "description is longer than 4000 characters"),
    ]
    for fields, message in cases:
        answer = await post_request(http, **fields)
        assert (answer.status_code, answer.json()) == (400, [{"code": 400, "description": message}])
    as_json = await http.post(f"{ROOT}/requests.json", json={"description": "ổ gà"})
    assert as_json.json() == [
        {
            "code": 400,
            "description": "send the request form-encoded (application/x-www-form-urlencoded)",
        }
    ]
    chosen = await post_request(
        http, description="ổ gà", service_code="roads", **{"attribute[commune_code]": TAN_LAP}
    )
    found = await routed(api, chosen.json()[0]["service_request_id"])
    assert (found["service_code"], found["agency_responsible"]) == ("roads", "Phường Tân Lập")
    unknown = await http.get(f"{ROOT}/requests/999999.json")
    assert (unknown.status_code, unknown.json()) == (
        404,
        [{"code": 404, "description": "service_request_id 999999 not found"}],
    )
    dates = await http.get(f"{ROOT}/requests.json", params={"start_date": "yesterday"})
    assert dates.json() == [
        {"code": 400, "description": "start_date and end_date must be W3C datetimes"}
    ]


async def test_a_deployment_with_api_keys_refuses_a_post_without_one(
    local_env: WorkflowEnvironment, database_url: str, engine: Engine, executor: ThreadPoolExecutor
) -> None:
    settings = Settings(
        database_url=database_url,
        temporal_address=temporal_address(local_env),
        task_queue=f"keys-{uuid.uuid4().hex[:8]}",
        open311_api_keys="key-one, key-two",
    )
    app = create_app(settings)
    async with (
        running_worker(local_env.client, engine, settings.task_queue, executor),
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        missing = await post_request(http, description="ổ gà ở xã Ea Kar")
        wrong = await post_request(http, description="ổ gà ở xã Ea Kar", api_key="key-three")
        right = await post_request(http, description="ổ gà ở xã Ea Kar", api_key="key-two")
    refusal = [{"code": 403, "description": "a valid api_key is required"}]
    assert (missing.status_code, missing.json()) == (403, refusal)
    assert (wrong.status_code, wrong.json()) == (403, refusal)
    assert right.status_code == 200
    assert right.json()[0]["service_request_id"].isdigit()
