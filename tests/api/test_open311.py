"""Open311 GeoReport v2 as a GeoReport client uses it: no token, form-encoded POST, JSON arrays,
errors as `[{"code": …, "description": …}]`, `jurisdiction_id`, `agency_responsible`; then the
commune's handling: only the commune it is routed to sees, forwards and answers it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from api.routes.open311 import public_position
from app import create_app
from config import Settings
from db.models import AuditEntry, Feedback
from tests.api.test_directives_api import eventually
from tests.conftest import ApiClient, running_worker, temporal_address

ROOT = "/api/v1/open311"
EA_KAR, TAN_AN, TAN_LAP = "24373", "24163", "24121"


def not_found(request_id: str) -> dict[str, str]:
    """Another commune's feedback answers as a missing one does: its existence is not told."""
    return {"detail": f"feedback {request_id} not found"}


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
        lat="12.80449",
        long="108.4505",
        address_string="Nhà số 7, trước chợ Ea Kar",
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
    # The position rounded half away from zero to 3 decimals (about 110 m); no citizen text.
    assert (found["status"], found["lat"], found["long"]) == ("open", 12.804, 108.451)
    assert (found["description"], found["address"]) == (None, None)
    assert found["expected_datetime"].endswith("17:00:00+07:00")
    # Personal data never leaves through Open311.
    assert "cong.dan" not in str(found) and "Văn C" not in str(found)
    assert "Đèn đường" not in str(found) and "Nhà số 7" not in str(found)

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
    hidden = await api.request("GET", feedback_path, token=other)
    assert (hidden.status_code, hidden.json()) == (404, not_found(request_id))
    refused = await api.request(
        "POST", f"{feedback_path}/answer", token=other, json={"text": "Không phải của tôi"}
    )
    assert (refused.status_code, refused.json()) == (404, not_found(request_id))
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
    assert (refused.status_code, refused.json()) == (404, not_found(request_id))
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
    assert (gone.status_code, gone.json()) == (404, not_found(request_id))


async def test_bad_requests_answer_in_the_specs_error_shape(api: ApiClient) -> None:
    http = api.http
    cases = [
        ({"service_code": "roads"}, "description is required"),
        ({"description": "ổ gà", "service_code": "nope"}, "service_code nope not found"),
        (
            {"description": "ổ gà", "attribute[commune_code]": "99999"},
            "attribute[commune_code] 99999 is not a commune of the province",
        ),
        ({"description": "ổ gà", "lat": "north"}, "lat must be decimal degrees from -90 to 90"),
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
    # A superscript digit is a digit to str.isdigit but not a number to int(): once a 500.
    superscript = await http.get(f"{ROOT}/requests/³.json")
    assert (superscript.status_code, superscript.json()) == (
        404,
        [{"code": 404, "description": "service_request_id ³ not found"}],
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


def test_a_public_position_is_rounded_to_three_decimals_or_left_out() -> None:
    # Half away from zero, on the stored text, so no binary float decides a tie.
    assert public_position("12.80449", "108.4505") == (12.804, 108.451)
    assert public_position("-12.0005", "-108.00049") == (-12.001, -108.0)
    assert public_position("90", "-180") == (90.0, -180.0)
    # Rows an earlier version stored: no position rather than a broken read.
    assert public_position("nan", "108.45") == (None, None)
    assert public_position("12.8", "1e400") == (None, None)
    assert public_position("12.8", "-Infinity") == (None, None)
    assert public_position("north", "108.45") == (None, None)
    assert public_position("12.8", None) == (None, None)


LAT_RANGE = "lat must be decimal degrees from -90 to 90"
LONG_RANGE = "long must be decimal degrees from -180 to 180"


async def test_a_position_that_is_no_place_on_earth_is_refused_and_nothing_is_stored(
    api: ApiClient, engine: Engine
) -> None:
    marker = uuid.uuid4().hex
    cases = [
        ({"lat": "nan", "long": "108.45"}, LAT_RANGE),
        ({"lat": "12.8", "long": "1e400"}, LONG_RANGE),
        ({"lat": "inf", "long": "108.45"}, LAT_RANGE),
        ({"lat": "-Infinity", "long": "108.45"}, LAT_RANGE),
        ({"lat": "12.8", "long": "NaN"}, LONG_RANGE),
        ({"lat": "90.0001", "long": "108.45"}, LAT_RANGE),
        ({"lat": "12.8", "long": "-180.5"}, LONG_RANGE),
        ({"lat": "twelve", "long": "108.45"}, LAT_RANGE),
    ]
    for fields, message in cases:
        answer = await post_request(api.http, description=f"ổ gà {marker}", **fields)
        assert (answer.status_code, answer.json()) == (
            400,
            [{"code": 400, "description": message}],
        ), fields
    with Session(engine) as session:
        stored = session.scalar(
            select(func.count(Feedback.id)).where(Feedback.description.contains(marker))
        )
    assert stored == 0
    # The reads that a stored NaN used to break.
    assert (await api.http.get(f"{ROOT}/requests.json")).status_code == 200
    # The edges of the range are places.
    edge = await post_request(api.http, description=f"ổ gà {marker}", lat="-90", long="180")
    assert edge.status_code == 200, edge.text
    [shown] = (
        await api.http.get(f"{ROOT}/requests/{edge.json()[0]['service_request_id']}.json")
    ).json()
    assert (shown["lat"], shown["long"]) == (-90.0, 180.0)


async def test_a_position_stored_by_an_earlier_version_does_not_break_the_public_reads(
    api: ApiClient, engine: Engine
) -> None:
    stored = [("nan", "108.45"), ("12.8", "1e400"), ("inf", "-inf"), ("north", "108.45")]
    with Session(engine) as session, session.begin():
        rows = [
            Feedback(
                receipt_code=f"T{uuid.uuid4().hex[:12]}",
                description="ổ gà",
                lat=lat,
                long=long,
                # Closed and recorded (seq 1), so the reconciler starts no workflow for it.
                status="closed",
                seq=1,
                requested_at=datetime.now(UTC),
            )
            for lat, long in stored
        ]
        session.add_all(rows)
        session.flush()
        ids = [str(row.id) for row in rows]
    one = await api.http.get(f"{ROOT}/requests/{ids[0]}.json")
    assert one.status_code == 200, one.text
    assert (one.json()[0]["lat"], one.json()[0]["long"]) == (None, None)
    listed = await api.http.get(
        f"{ROOT}/requests.json", params={"service_request_id": ",".join(ids)}
    )
    assert listed.status_code == 200, listed.text
    assert [(r["service_request_id"], r["lat"], r["long"]) for r in listed.json()] == [
        (i, None, None) for i in reversed(ids)
    ]
    recent = await api.http.get(f"{ROOT}/requests.json", params={"status": "closed"})
    assert recent.status_code == 200, recent.text
    assert set(ids) <= {r["service_request_id"] for r in recent.json()}


async def test_the_office_makes_a_requests_text_public_and_takes_it_back(
    api: ApiClient, engine: Engine
) -> None:
    http = api.http
    text = "Rác thải đổ trộm cạnh trường tiểu học xã Ea Kar, bốc mùi cả tuần"
    filed = await post_request(
        http, description=text, address_string="Thôn 3, cạnh nhà ông Năm", lat="12.8", long="108.45"
    )
    assert filed.status_code == 200, filed.text
    request_id, receipt = filed.json()[0]["service_request_id"], filed.json()[0]["receipt_code"]
    found = await routed(api, request_id)
    assert (found["description"], found["address"], found["agency_responsible"]) == (
        None,
        None,
        "Xã Ea Kar",
    )
    # The receipt-code lookup, API and page, keeps its promise: no citizen text.
    lookup = await http.get(f"/api/v1/lookup/{receipt}")
    assert lookup.status_code == 200, lookup.text
    page = await http.get("/tra-cuu", params={"code": receipt})
    assert page.status_code == 200
    for shown in (lookup.text, page.text):
        assert "Rác thải" not in shown and "Thôn 3" not in shown and "108.45" not in shown

    publish, unpublish = (
        f"/api/v1/feedback/{request_id}/{verb}" for verb in ("publish", "unpublish")
    )
    leader = await api.token("commune_leader", EA_KAR)
    for token in (leader, await api.token("reader")):
        for path in (publish, unpublish):
            refused = await api.request("POST", path, token=token)
            assert (refused.status_code, refused.json()) == (
                403,
                {"detail": "this action is for the role(s): steering_office"},
            )
    unknown = await api.request("POST", "/api/v1/feedback/999999/publish")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "feedback 999999 not found"})
    [still] = (await http.get(f"{ROOT}/requests/{request_id}.json")).json()
    assert still["description"] is None

    published = await api.request("POST", publish)
    assert published.status_code == 200, published.text
    assert published.json()["description"] == text and published.json()["public_at"]
    again = await api.request("POST", publish)
    assert again.json()["public_at"] == published.json()["public_at"]
    [shown] = (await http.get(f"{ROOT}/requests/{request_id}.json")).json()
    assert (shown["description"], shown["address"]) == (text, None)
    [listed] = (
        await http.get(f"{ROOT}/requests.json", params={"service_request_id": request_id})
    ).json()
    assert listed["description"] == text
    detail = await api.request("GET", f"/api/v1/feedback/{request_id}")
    assert detail.json()["public_at"] == published.json()["public_at"]

    withdrawn = await api.request("POST", unpublish)
    assert (withdrawn.status_code, withdrawn.json()["public_at"]) == (200, None)
    [hidden] = (await http.get(f"{ROOT}/requests/{request_id}.json")).json()
    assert hidden["description"] is None
    with Session(engine) as session:
        audited = session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.subject == f"feedback:{request_id}")
            .order_by(AuditEntry.id)
        ).all()
    # One row per change: the repeated publish changed nothing and recorded nothing.
    assert [action for action, _ in audited] == ["feedback.published", "feedback.unpublished"]
    assert all(actor.startswith("token:") for _, actor in audited)
