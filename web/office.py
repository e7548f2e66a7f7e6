"""The steering office's pages: the province overview, the directives (list, one directive
with every commune, the form to issue one) and the office's actions. Every action calls the
very use case the API's route calls, with the signed-in person as its principal."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from db import queries as db_queries
from scoring.periods import PeriodError, month_of, parse_period
from services import assignments, directives
from services.assignments import AssignmentActions
from services.errors import ServiceError
from services.schemas import (
    DirectiveAmend,
    DirectiveCreate,
    DirectiveRecall,
    EscalationStepIn,
    ExtensionDecision,
    ReviewCreate,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep
from serving.error_status import status_of
from vocabulary.calendar import VIETNAM, working_day_deadline
from vocabulary.directives import AssignmentStatus, Timeliness
from web import queries
from web.errors import refusal
from web.render import local, render
from web.scores_pages import band_colour, current_ranking
from web.sessions import OfficeWeb, PageRefused, SignedIn, check_csrf

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


def progress(counts: dict[str, Any]) -> dict[str, Any]:
    """Shares of a directive's assignments (cancelled ones left out) for the progress bars."""
    status, timeliness = counts["status"], counts["timeliness"]
    live = max(counts["total"] - status.get("cancelled", 0), 0)
    acknowledged = live - status.get("notified", 0)
    reported = status.get("reported", 0) + status.get("completed", 0)
    completed = status.get("completed", 0)

    def share(n: int) -> int:
        return round(100 * n / live) if live else 0

    return {
        "total": live,
        "bars": [
            ("acknowledged", "Đã tiếp nhận", "Acknowledged", acknowledged, share(acknowledged)),
            ("reported", "Đã báo cáo", "Reported", reported, share(reported)),
            ("completed", "Hoàn thành", "Completed", completed, share(completed)),
        ],
        "on_time": timeliness.get("on_time", 0),
        "late": timeliness.get("late", 0),
        "overdue": timeliness.get("overdue", 0),
        "within": timeliness.get("within_deadline", 0),
    }


@router.get("/")
async def overview(
    request: Request, user: SignedIn, session: SessionDep, period: str | None = None
) -> Response:
    if not user.is_office:
        return RedirectResponse("/inbox", status_code=303)
    now = datetime.now(UTC)
    try:
        chosen = parse_period(period) if period else month_of(now)
    except PeriodError as e:
        raise PageRefused(422, str(e)) from e
    cards = await current_ranking(session, chosen, now)
    tiles = sorted(cards, key=lambda c: c.commune_code)
    return render(
        request,
        "overview.html",
        user,
        period=chosen.key,
        tiles=tiles,
        colour=band_colour,
        today=await queries.today(session),
        attention=await queries.attention(session),
        live_key="",
    )


@router.get("/directives")
async def directive_list(
    request: Request,
    user: OfficeWeb,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    status: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    status_value = status if status in {"issuing", "active", "closed", "recalled"} else None
    rows, total = await queries.search_directives(
        session, q.strip() or None, status_value, PAGE_SIZE, (page - 1) * PAGE_SIZE
    )
    counts = await db_queries.assignment_counts(session, [d.id for d in rows])
    items = [(d, progress(counts[d.id])) for d in rows]
    return render(
        request,
        "directives.html",
        user,
        items=items,
        total=total,
        q=q,
        status=status_value or "",
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


def _default_form() -> dict[str, Any]:
    return {
        "title": "",
        "body": "",
        "mode": "working_days",
        "due_in_working_days": "5",
        "deadline": "",
        "acknowledge_within": "P1D",
        "reminders": "P1D, -P1D",
        "step1_after": "P2D",
        "step1_to": "official_in_charge",
        "step2_after": "P5D",
        "step2_to": "steering_office",
        "communes": "",
        "key": secrets.token_urlsafe(16),
    }


def _new_page(
    request: Request, user: OfficeWeb, form: dict[str, Any], error: str | None, code: int
) -> Response:
    days = form.get("due_in_working_days") or "5"
    preview = None
    if str(days).isdecimal() and 1 <= int(days) <= 365:
        preview = working_day_deadline(datetime.now(UTC), int(days))
    return render(
        request,
        "directive_new.html",
        user,
        form=form,
        error=error,
        preview=preview,
        status_code=code,
    )


@router.get("/directives/new")
async def new_directive(request: Request, user: OfficeWeb) -> Response:
    return _new_page(request, user, _default_form(), None, 200)


@router.get("/directives/deadline-preview")
async def deadline_preview(
    user: OfficeWeb, working_days: Annotated[int, Query(ge=1, le=365)]
) -> JSONResponse:
    """The deadline a directive given now with this many working days would get, on the
    Vietnamese calendar the workflow itself uses."""
    due = working_day_deadline(datetime.now(UTC), working_days)
    return JSONResponse(
        {
            "working_days": working_days,
            "deadline": due.isoformat(),
            "vi": local(due, "vi"),
            "en": local(due, "en"),
        }
    )


def directive_payload(form: dict[str, Any]) -> DirectiveCreate:
    steps = [
        EscalationStepIn(after=form[f"step{i}_after"].strip(), to=form[f"step{i}_to"])
        for i in (1, 2)
        if form.get(f"step{i}_after", "").strip()
    ]
    fields: dict[str, Any] = {
        "title": form["title"].strip(),
        "body": form["body"].strip(),
        "reminder_offsets": [r.strip() for r in form["reminders"].split(",") if r.strip()],
        "escalation": steps,
        "acknowledge_within": form["acknowledge_within"].strip() or None,
    }
    if form["mode"] == "deadline":
        if not form["deadline"]:
            raise ValueError("Chọn hạn hoàn thành / choose a deadline")
        fields["deadline"] = datetime.fromisoformat(form["deadline"]).replace(tzinfo=VIETNAM)
    else:
        fields["due_in_working_days"] = int(form["due_in_working_days"])
    codes = [c.strip() for c in form["communes"].replace(";", ",").split(",") if c.strip()]
    if codes:
        fields["communes"] = codes
    return DirectiveCreate(**fields)


@router.post("/directives/new")
async def issue(
    request: Request,
    user: OfficeWeb,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    raw = await request.form()
    form = _default_form() | {k: str(v) for k, v in raw.items() if isinstance(v, str)}
    check_csrf(user, form.get("csrf"))
    try:
        payload = directive_payload(form)
    except ValidationError as e:
        message = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}".lstrip(": ")
            for err in e.errors()
        )
        return _new_page(request, user, form, message, 422)
    except ValueError as e:
        return _new_page(request, user, form, str(e), 422)
    try:
        created, _ = await directives.issue_directive(
            session, temporal, settings, payload, user.principal, form["key"][:200]
        )
    except ServiceError as e:
        return _new_page(request, user, form, e.message, status_of(e))
    return RedirectResponse(f"/directives/{created.id}", status_code=303)


@router.get("/directives/{directive_id}")
async def directive_page(
    request: Request,
    directive_id: int,
    user: OfficeWeb,
    session: SessionDep,
    settings: SettingsDep,
    status: str = "",
    timeliness: str = "",
) -> Response:
    try:
        directive = await directives.load_directive(session, user.principal, directive_id)
    except ServiceError as e:
        raise refusal(e) from e
    public = await directives.directive_public(session, directive)
    chosen_status = AssignmentStatus(status) if status in set(AssignmentStatus) else None
    chosen_time = Timeliness(timeliness) if timeliness in set(Timeliness) else None
    page = await assignments.assignments_page(
        session, settings, directive_id, None, chosen_status, chosen_time, 500, 0
    )
    return render(
        request,
        "directive.html",
        user,
        directive=public,
        progress=progress(public.counts.model_dump()),
        assignments=page.data,
        status=status,
        timeliness=timeliness,
        statuses=list(AssignmentStatus),
        timelinesses=list(Timeliness),
        live_key=str(directive_id),
    )


@router.get("/directives/{directive_id}/communes/{commune_code}")
async def assignment_page(
    request: Request, directive_id: int, commune_code: str, user: OfficeWeb, session: SessionDep
) -> Response:
    try:
        detail = await assignments.assignment_detail(
            session, user.principal, directive_id, commune_code
        )
        directive = await directives.load_directive(session, user.principal, directive_id)
    except ServiceError as e:
        raise refusal(e) from e
    return render(
        request,
        "assignment.html",
        user,
        directive=directive,
        a=detail,
        live_key=str(directive_id),
    )


def _back(request: Request, directive_id: int) -> str:
    """Back to the page the decision was taken on (the directive's list with its filters, or
    the commune's page): a path of ours only, taken from a Referer of this very origin. A
    Referer of another host (`https://evil.example/directives/1`) or any other path sends the
    office to the directive's page, never off the site."""
    home = f"/directives/{directive_id}"
    came_from = urlsplit(request.headers.get("referer", ""))
    ours = (came_from.scheme, came_from.netloc) == (request.url.scheme, request.url.netloc)
    if ours and (came_from.path == home or came_from.path.startswith(f"{home}/communes/")):
        return f"{came_from.path}?{came_from.query}" if came_from.query else came_from.path
    return home


async def _decide(
    decide: Callable[[AssignmentActions], Awaitable[Any]],
    directive_id: int,
    commune_code: str,
    session: Any,
    temporal: Any,
    settings: Any,
) -> None:
    """One of the office's decisions on an assignment, through the use case the API calls: a
    form the schema refuses is a 422 page, a transition the workflow refuses its 4xx page."""
    try:
        await decide(AssignmentActions(directive_id, commune_code, session, temporal, settings))
    except ValidationError as e:
        raise PageRefused(422, e.errors()[0]["msg"]) from e
    except ServiceError as e:
        raise refusal(e) from e


@router.post("/directives/{directive_id}/communes/{commune_code}/review")
async def review(
    request: Request,
    directive_id: int,
    commune_code: str,
    user: OfficeWeb,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    decision: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    check_csrf(user, csrf)

    async def decide(actions: AssignmentActions) -> Any:
        form = ReviewCreate(decision=decision, comment=comment.strip())  # type: ignore[arg-type]
        return await actions.review(user.principal, form.decision == "accept", form.comment)

    await _decide(decide, directive_id, commune_code, session, temporal, settings)
    return RedirectResponse(_back(request, directive_id), status_code=303)


@router.post("/directives/{directive_id}/communes/{commune_code}/extension")
async def decide_extension(
    request: Request,
    directive_id: int,
    commune_code: str,
    user: OfficeWeb,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    decision: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(user, csrf)

    async def decide(actions: AssignmentActions) -> Any:
        form = ExtensionDecision(decision=decision, comment=comment.strip())  # type: ignore[arg-type]
        return await actions.decide_extension(
            user.principal, form.decision == "grant", form.until, form.comment
        )

    await _decide(decide, directive_id, commune_code, session, temporal, settings)
    return RedirectResponse(_back(request, directive_id), status_code=303)


@router.post("/directives/{directive_id}/amend")
async def amend(
    directive_id: int,
    user: OfficeWeb,
    session: SessionDep,
    temporal: TemporalDep,
    csrf: Annotated[str, Form()] = "",
    title: Annotated[str, Form(max_length=500)] = "",
    body: Annotated[str, Form(max_length=20_000)] = "",
    deadline: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    check_csrf(user, csrf)
    try:
        moment = datetime.fromisoformat(deadline).replace(tzinfo=VIETNAM) if deadline else None
        payload = DirectiveAmend(
            title=title.strip() or None, body=body.strip() or None, deadline=moment
        )
        await directives.amend_directive(session, temporal, user.principal, directive_id, payload)
    except ValidationError as e:
        raise PageRefused(422, e.errors()[0]["msg"]) from e
    except ValueError as e:
        raise PageRefused(422, str(e)) from e
    except ServiceError as e:
        raise refusal(e) from e
    return RedirectResponse(f"/directives/{directive_id}", status_code=303)


@router.post("/directives/{directive_id}/recall")
async def recall(
    directive_id: int,
    user: OfficeWeb,
    session: SessionDep,
    temporal: TemporalDep,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(user, csrf)
    try:
        form = DirectiveRecall(reason=reason.strip())
        await directives.recall_directive(
            session, temporal, user.principal, directive_id, form.reason
        )
    except ServiceError as e:
        raise refusal(e) from e
    return RedirectResponse(f"/directives/{directive_id}", status_code=303)


@router.get("/live/version")
async def live_version(
    user: OfficeWeb, session: SessionDep, directive: int | None = None
) -> JSONResponse:
    """What the pages poll every few seconds: a stamp that changes when their data does."""
    stamp = await queries.version(session, directive)
    return JSONResponse({"version": stamp}, headers={"Cache-Control": "no-store"})
