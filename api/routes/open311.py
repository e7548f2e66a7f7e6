"""Community feedback through Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2), so
existing GeoReport clients work unchanged: `services.json`, `services/{code}.json`,
`requests.json` (GET with the spec's filters, POST form-encoded) and `requests/{id}.json`.

Answers are JSON arrays as the spec's; errors are `[{"code": 400, "description": "…"}]`.
`jurisdiction_id` is accepted (and must be ours when given). `api_key` is required on POST only
when AXIS_OPEN311_API_KEYS lists keys: citizens file without one, as on the public form.
The commune responsible is `agency_responsible`. A citizen may name the commune with the
service attribute `attribute[commune_code]`; otherwise the text and the address decide.
Extensions: a POST's answer also carries `receipt_code`, for the citizen's lookup and rating.

The reads need no key and ids are sequential, so they show what the office may show anyone: the
service, status, commune, dates, the commune's answer (`status_notes`) and the position rounded
to 0.001° (about 110 m); the citizen's description only once the office made the request
public (POST /api/v1/feedback/{id}/publish); the address and contact details never."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from activities.routing import SERVICE_CODES, SERVICES
from api.rate_limits import limit_open311_posts
from db.communes import DAK_LAK
from db.models import Commune, Feedback
from services.errors import EngineUnavailable
from services.feedback import create_feedback, start_feedback
from services.receipts import display
from serving.deps import SessionDep, SettingsDep, TemporalGateway
from vocabulary.calendar import VIETNAM
from vocabulary.cases import FeedbackStatus

router = APIRouter(prefix="/open311", tags=["open311"])
log = logging.getLogger("axis.open311")
MAX_DESCRIPTION = 4000
MAX_RESULTS = 1000
DEFAULT_DAYS = 90
CLOSED = (FeedbackStatus.ANSWERED.value, FeedbackStatus.CLOSED.value)
MAX_LAT, MAX_LONG = 90, 180
PUBLIC_STEP = Decimal("0.001")


async def form_fields(request: Request) -> dict[str, str] | None:
    """The fields of a form-encoded body (application/x-www-form-urlencoded, as the spec
    defines a POST), or None for any other body. Read here rather than by a multipart parser:
    the spec sends no files."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def error(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


def w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(VIETNAM).isoformat(timespec="seconds") if moment else None


def _jurisdiction_error(params: Any, settings: SettingsDep) -> JSONResponse | None:
    given = params.get("jurisdiction_id")
    if given and given != settings.open311_jurisdiction:
        return error(404, f"jurisdiction_id {given} is not served here")
    return None


async def _communes(session: SessionDep) -> dict[str, str]:
    rows = await session.execute(
        select(Commune.code, Commune.name).where(Commune.province_code == str(DAK_LAK))
    )
    return {code: name for code, name in rows}


@router.get("/services.json")
async def list_services(request: Request, settings: SettingsDep) -> JSONResponse:
    if (refused := _jurisdiction_error(request.query_params, settings)) is not None:
        return refused
    return JSONResponse(
        [
            {
                "service_code": s.code,
                "service_name": s.name,
                "description": s.description,
                "metadata": True,
                "type": "realtime",
                "keywords": ", ".join(s.keywords),
                "group": "Phản ánh, kiến nghị",
            }
            for s in SERVICES
        ]
    )


@router.get("/services/{service_code}.json")
async def service_definition(
    service_code: str, request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    if (refused := _jurisdiction_error(request.query_params, settings)) is not None:
        return refused
    if service_code not in SERVICE_CODES:
        return error(404, f"service_code {service_code} not found")
    communes = await _communes(session)
    return JSONResponse(
        {
            "service_code": service_code,
            "attributes": [
                {
                    "variable": True,
                    "code": "commune_code",
                    "datatype": "singlevaluelist",
                    "required": False,
                    "datatype_description": "Xã, phường nơi xảy ra sự việc (không bắt buộc)",
                    "order": 1,
                    "description": "Xã, phường",
                    "values": [{"key": code, "name": name} for code, name in communes.items()],
                }
            ],
        }
    )


def public_position(lat: str | None, long: str | None) -> tuple[float | None, float | None]:
    """A stored position as public reads show it: each coordinate rounded half away from zero
    to 3 decimal places of a degree (0.001° is 111 m of latitude and about 108 m of longitude
    in Đắk Lắk, near 12.7° N), so a public read places a request within a block, not at a
    door. A position that is not two finite degrees in range (a row stored before POST
    checked them) is shown as none rather than breaking every read that covers it."""
    if lat is None or long is None:
        return None, None
    try:
        parsed = Decimal(lat.strip()), Decimal(long.strip())
    except InvalidOperation:
        return None, None
    if not all(value.is_finite() for value in parsed):
        return None, None
    if not (abs(parsed[0]) <= MAX_LAT and abs(parsed[1]) <= MAX_LONG):
        return None, None
    rounded = [float(value.quantize(PUBLIC_STEP, rounding=ROUND_HALF_UP)) for value in parsed]
    return rounded[0], rounded[1]


def _request_out(f: Feedback, communes: dict[str, str]) -> dict[str, Any]:
    """What anyone may read of a request: no key is needed and ids are sequential, so it holds
    nothing the citizen wrote unless the office made it public (`public_at`), and never the
    citizen's address or contact details. `status_notes` is the commune's answer, which is
    the office's own public text."""
    names = {s.code: s.name for s in SERVICES}
    lat, long = public_position(f.lat, f.long)
    return {
        "service_request_id": str(f.id),
        "status": "closed" if f.status in CLOSED else "open",
        "status_notes": f.answer,
        "service_name": names.get(f.service_code or ""),
        "service_code": f.service_code,
        "description": f.description if f.public_at is not None else None,
        "agency_responsible": communes.get(f.commune_code or ""),
        "service_notice": None,
        "requested_datetime": w3c(f.requested_at),
        "updated_datetime": w3c(f.updated_at),
        "expected_datetime": w3c(f.answer_due_at),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": long,
        "media_url": None,
    }


def _date(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return moment


@router.get("/requests.json")
async def list_requests(
    request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """Service requests, newest first. With `service_request_id` (comma-separated) the other
    filters are ignored, as the spec says; otherwise the last 90 days unless dates are given,
    at most 1,000 requests."""
    params = request.query_params
    if (refused := _jurisdiction_error(params, settings)) is not None:
        return refused
    query = select(Feedback)
    if ids := params.get("service_request_id"):
        try:
            wanted = [int(part) for part in ids.split(",") if part.strip()]
        except ValueError:
            return error(400, "service_request_id must be comma-separated numbers")
        query = query.where(Feedback.id.in_(wanted))
    else:
        try:
            start = _date(params["start_date"]) if params.get("start_date") else None
            end = _date(params["end_date"]) if params.get("end_date") else None
        except ValueError:
            return error(400, "start_date and end_date must be W3C datetimes")
        if start is None and end is None:
            start = datetime.now(UTC) - timedelta(days=DEFAULT_DAYS)
        if start is not None:
            query = query.where(Feedback.requested_at >= start)
        if end is not None:
            query = query.where(Feedback.requested_at <= end)
        if codes := params.get("service_code"):
            query = query.where(Feedback.service_code.in_(codes.split(",")))
        if wanted_status := params.get("status"):
            chosen = set(wanted_status.split(","))
            if not chosen <= {"open", "closed"}:
                return error(400, "status is open or closed")
            if chosen == {"open"}:
                query = query.where(Feedback.status.not_in(CLOSED))
            elif chosen == {"closed"}:
                query = query.where(Feedback.status.in_(CLOSED))
    rows = await session.scalars(query.order_by(Feedback.id.desc()).limit(MAX_RESULTS))
    communes = await _communes(session)
    return JSONResponse([_request_out(f, communes) for f in rows])


@router.get("/requests/{service_request_id}.json")
async def get_request(
    service_request_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    if (refused := _jurisdiction_error(request.query_params, settings)) is not None:
        return refused
    found = (
        await session.get(Feedback, int(service_request_id))
        # isdecimal, not isdigit: "³" is a digit that int() refuses.
        if service_request_id.isdecimal()
        else None
    )
    if found is None:
        return error(404, f"service_request_id {service_request_id} not found")
    return JSONResponse([_request_out(found, await _communes(session))])


def _degrees(fields: dict[str, str], name: str, limit: int) -> tuple[str | None, str]:
    """One coordinate of a POST, normalised for storage, or what is wrong with it. NaN and
    infinities parse as floats but are no place, and once stored they broke every public read
    covering them (JSON has no NaN): refused here with the range check."""
    given = fields.get(name, "").strip()
    if not given:
        return None, ""
    try:
        value = float(given)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and -limit <= value <= limit):
        return None, f"{name} must be decimal degrees from -{limit} to {limit}"
    # repr gives the shortest text that reads back as the same float, always within the
    # column's 32 characters whatever the citizen typed.
    return repr(value), ""


async def file_feedback(
    fields: dict[str, str], session: SessionDep, gateway: TemporalGateway, settings: SettingsDep
) -> tuple[Feedback | None, str]:
    """Validate and store one feedback from form fields, and start its workflow. Returns the
    feedback, or None and what is wrong. The Open311 POST and the public form share this.

    A citizen's feedback is never refused because Temporal is away: it is stored, and the
    reconciler starts its workflow when Temporal answers again."""
    description = fields.get("description", "").strip()
    if not description:
        return None, "description is required"
    if len(description) > MAX_DESCRIPTION:
        return None, f"description is longer than {MAX_DESCRIPTION} characters"
    service_code = fields.get("service_code", "").strip() or None
    if service_code is not None and service_code not in SERVICE_CODES:
        return None, f"service_code {service_code} not found"
    commune_code = fields.get("attribute[commune_code]", "").strip() or None
    if commune_code is not None and commune_code not in await _communes(session):
        return None, f"attribute[commune_code] {commune_code} is not a commune of the province"
    lat, problem = _degrees(fields, "lat", MAX_LAT)
    if problem:
        return None, problem
    long, problem = _degrees(fields, "long", MAX_LONG)
    if problem:
        return None, problem
    name = " ".join(p for p in (fields.get("first_name", ""), fields.get("last_name", "")) if p)
    feedback = await create_feedback(
        session,
        description=description,
        address=fields.get("address_string", "").strip()[:500],
        service_code=service_code,
        commune_code=commune_code,
        lat=lat,
        long=long,
        email=fields.get("email", "").strip()[:320] or None,
        phone=fields.get("phone", "").strip()[:32] or None,
        name=name.strip()[:200] or None,
    )
    try:
        await start_feedback(await gateway.get(), settings, feedback)
    except (HTTPException, EngineUnavailable):
        log.warning("feedback %s stored; its workflow starts when Temporal answers", feedback.id)
    return feedback, ""


@router.post("/requests.json", dependencies=[Depends(limit_open311_posts)])
async def create_request(
    request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """File a service request (form-encoded, as the spec defines)."""
    fields = await form_fields(request)
    if fields is None:
        return error(400, "send the request form-encoded (application/x-www-form-urlencoded)")
    if (refused := _jurisdiction_error(fields, settings)) is not None:
        return refused
    if settings.open311_api_keys:
        keys = {k.strip() for k in settings.open311_api_keys.split(",") if k.strip()}
        if fields.get("api_key") not in keys:
            return error(403, "a valid api_key is required")
    feedback, problem = await file_feedback(fields, session, request.app.state.temporal, settings)
    if feedback is None:
        return error(400, problem)
    return JSONResponse(
        [
            {
                "service_request_id": str(feedback.id),
                "service_notice": "Phản ánh đã được tiếp nhận và chuyển đến xã, phường phụ trách.",
                "account_id": None,
                "receipt_code": display(feedback.receipt_code),
            }
        ]
    )
