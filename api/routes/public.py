"""What citizens use without signing in: the status of a dossier or a feedback by its receipt
code (API and page), the rating of an answer, and the feedback form.

A receipt code reveals the case's status and dates only: no name, contact or text of the
citizen. Every wrong code gets the same 404, and a client with too many wrong codes gets 429
(AXIS_LOOKUP_MAX_FAILURES within AXIS_LOOKUP_WINDOW_SECONDS)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.rendering import local_time
from activities.routing import SERVICES
from api.rate_limits import limit_form_posts
from api.routes.open311 import file_feedback, form_fields
from db.models import Commune, Dossier, Feedback, Procedure
from services.case_schemas import CaseStatusPublic, Rating
from services.feedback import rate_feedback
from services.receipts import display, normalise
from serving.deps import SessionDep, SettingsDep, TemporalDep
from serving.lookup_limits import client_of, limiter_of

router = APIRouter(prefix="/lookup", tags=["citizens"])
pages = APIRouter(tags=["citizens"], include_in_schema=False)
PAGES_DIR = Path(__file__).resolve().parents[2] / "templates" / "pages"
NOT_FOUND = "no dossier or feedback has this receipt code"
SERVICE_NAMES = {s.code: s.name for s in SERVICES}


@lru_cache(maxsize=1)
def _pages() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(PAGES_DIR)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(default=True),
    )
    env.filters["local_time"] = local_time
    return env


def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_pages().get_template(name).render(**context), status_code=status_code)


async def find_case(session: AsyncSession, code: str) -> Dossier | Feedback | None:
    stored = normalise(code)
    if stored is None:
        return None
    dossier = await session.scalar(select(Dossier).where(Dossier.receipt_code == stored))
    if dossier is not None:
        return dossier
    return await session.scalar(select(Feedback).where(Feedback.receipt_code == stored))


async def case_status(session: AsyncSession, case: Dossier | Feedback) -> CaseStatusPublic:
    if isinstance(case, Dossier):
        procedure = await session.get(Procedure, case.procedure_code)
        commune = await session.get(Commune, case.commune_code)
        return CaseStatusPublic(
            kind="dossier",
            status=case.status,
            timeliness=case.timeliness,
            received_at=case.received_at,
            due_at=case.due_at,
            appointment_at=case.appointment_at,
            finished_at=case.result_at or case.closed_at,
            procedure_name=procedure.name if procedure else None,
            commune_name=commune.name if commune else None,
        )
    commune = await session.get(Commune, case.commune_code) if case.commune_code else None
    return CaseStatusPublic(
        kind="feedback",
        status=case.status,
        received_at=case.requested_at,
        due_at=case.answer_due_at,
        finished_at=case.answered_at,
        service_name=SERVICE_NAMES.get(case.service_code or ""),
        commune_name=commune.name if commune else None,
        answer=case.answer,
        rating=case.rating,
    )


async def lookup(request: Request, session: AsyncSession, code: str) -> Dossier | Feedback:
    """The case of a receipt code, counting a wrong code against the client."""
    limiter = limiter_of(request)
    client = client_of(request)
    await limiter.check(client)
    case = await find_case(session, code)
    if case is None:
        await limiter.fail(client)
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return case


@router.get("/{code}")
async def get_status(code: str, request: Request, session: SessionDep) -> CaseStatusPublic:
    """The status of a dossier or a feedback by its receipt code; no sign-in."""
    return await case_status(session, await lookup(request, session, code))


@router.post("/{code}/rating")
async def rate(
    code: str, payload: Rating, request: Request, session: SessionDep, temporal: TemporalDep
) -> CaseStatusPublic:
    """Rate the commune's answer to a feedback, 1 to 5, once."""
    case = await lookup(request, session, code)
    await rate_feedback(session, temporal, case, payload.rating)
    return await case_status(session, await lookup(request, session, code))


# ---- pages ----------------------------------------------------------------------------------


@pages.get("/tra-cuu")
async def lookup_page(request: Request, session: SessionDep, code: str = "") -> HTMLResponse:
    """Tra cứu hồ sơ, phản ánh bằng mã biên nhận."""
    if not code:
        return page("lookup.html", code="", case=None, problem="")
    try:
        case = await lookup(request, session, code)
    except HTTPException as e:
        problem = (
            "Quá nhiều mã sai từ địa chỉ này. Vui lòng thử lại sau."
            if e.status_code == status.HTTP_429_TOO_MANY_REQUESTS
            else "Không tìm thấy hồ sơ hoặc phản ánh nào có mã biên nhận này."
        )
        return page("lookup.html", e.status_code, code=code, case=None, problem=problem)
    return page("lookup.html", code=code, case=await case_status(session, case), problem="")


@pages.get("/gop-y")
async def feedback_form() -> HTMLResponse:
    """Gửi phản ánh, kiến nghị."""
    return page("feedback_form.html", services=SERVICES, problem="", fields={})


@pages.post("/gop-y", dependencies=[Depends(limit_form_posts)])
async def submit_feedback(
    request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    fields = await form_fields(request) or {}
    feedback, problem = await file_feedback(fields, session, request.app.state.temporal, settings)
    if feedback is None:
        return page("feedback_form.html", 400, services=SERVICES, problem=problem, fields=fields)
    return page("feedback_received.html", 201, receipt_code=display(feedback.receipt_code))
