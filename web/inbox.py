"""A commune leader's inbox: their commune's tasks only, each with the directive, its
timeline and the leader's actions (acknowledge, report with evidence, ask for an extension).
`/inbox/directives/{id}` is the stable address the links in messages land on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from db.models import Directive, EvidenceFile
from services import assignments, directives
from services.assignments import AssignmentActions
from services.errors import ServiceError
from services.schemas import ExtensionCreate, ReportCreate
from serving.deps import SessionDep, SettingsDep, TemporalDep
from vocabulary.calendar import OFFICE_DAY_ENDS, VIETNAM
from vocabulary.directives import CLOSED_STATUSES
from web import evidence
from web.errors import refusal
from web.render import render
from web.sessions import LeaderWeb, PageRefused, SignedIn, check_csrf

router = APIRouter(include_in_schema=False)
EVIDENCE_PREFIX = "/evidence/"


@router.get("/inbox")
async def inbox(
    request: Request, user: LeaderWeb, session: SessionDep, settings: SettingsDep
) -> Response:
    page = await assignments.assignments_page(
        session, settings, None, user.principal.commune_filter(), None, None, 200, 0
    )
    open_ones = [a for a in page.data if a.status not in CLOSED_STATUSES]
    past = [a for a in page.data if a.status in CLOSED_STATUSES]
    ids = sorted({a.directive_id for a in page.data})
    found = await session.execute(
        select(Directive.id, Directive.title).where(Directive.id.in_(ids))
    )
    titles = {directive_id: title for directive_id, title in found}
    return render(request, "inbox.html", user, open_ones=open_ones, past=past, titles=titles)


@router.get("/inbox/directives/{directive_id}")
async def inbox_item(
    request: Request, directive_id: int, user: SignedIn, session: SessionDep
) -> Response:
    """Where the links in messages land: a leader gets their commune's task; the office,
    following the same link, the directive's page."""
    if user.is_office:
        return RedirectResponse(f"/directives/{directive_id}", status_code=303)
    code = user.commune_code
    if code is None:
        raise PageRefused(403, "Trang này dành cho lãnh đạo xã, phường.")
    try:
        directive = await directives.load_directive(session, user.principal, directive_id)
        detail = await assignments.assignment_detail(session, user.principal, directive_id, code)
    except ServiceError as e:
        raise refusal(e) from e
    files = list(
        await session.scalars(
            select(EvidenceFile)
            .where(EvidenceFile.directive_id == directive_id, EvidenceFile.commune_code == code)
            .order_by(EvidenceFile.id)
        )
    )
    names = {f"{EVIDENCE_PREFIX}{f.stored_name}": f.original_name for f in files}
    return render(
        request,
        "inbox_item.html",
        user,
        directive=directive,
        a=detail,
        evidence_names=names,
        max_files=request.app.state.settings.max_upload_files,
        max_mib=request.app.state.settings.max_upload_bytes // (1024 * 1024),
        kinds=", ".join(sorted(evidence.KINDS)),
    )


async def _actions(
    directive_id: int,
    user: LeaderWeb,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> AssignmentActions:
    code = user.commune_code
    assert code is not None
    try:
        await directives.load_directive(session, user.principal, directive_id)
    except ServiceError as e:
        raise refusal(e) from e
    return AssignmentActions(directive_id, code, session, temporal, settings)


@router.post("/inbox/directives/{directive_id}/acknowledge")
async def acknowledge(
    directive_id: int,
    user: LeaderWeb,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    actions = await _actions(directive_id, user, session, temporal, settings)
    try:
        await actions.acknowledge(user.principal)
    except ServiceError as e:
        raise refusal(e) from e
    return RedirectResponse(f"/inbox/directives/{directive_id}", status_code=303)


@router.post("/inbox/directives/{directive_id}/report")
async def report(
    directive_id: int,
    user: LeaderWeb,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    summary: Annotated[str, Form(max_length=4000)],
    csrf: Annotated[str, Form()] = "",
    links: Annotated[str, Form(max_length=5000)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    check_csrf(user, csrf)
    actions = await _actions(directive_id, user, session, temporal, settings)
    code = user.commune_code
    assert code is not None
    try:
        stored = await evidence.store(settings, files or [])
    except evidence.EvidenceRefused as e:
        raise PageRefused(422, str(e)) from e
    names = [s.stored_name for s in stored]
    try:
        payload = ReportCreate(
            summary=summary.strip(),
            evidence=[f"{EVIDENCE_PREFIX}{n}" for n in names]
            + [line.strip() for line in links.splitlines() if line.strip()],
        )
        now = datetime.now(UTC)
        for s in stored:
            session.add(
                EvidenceFile(
                    stored_name=s.stored_name,
                    directive_id=directive_id,
                    commune_code=code,
                    original_name=s.original_name,
                    content_type=s.content_type,
                    size=s.size,
                    uploaded_by=user.principal.actor,
                    uploaded_at=now,
                )
            )
        await session.commit()
        await actions.report(user.principal, payload.summary, payload.evidence)
    except (ValidationError, ServiceError) as e:
        # The report was refused: its files are not kept.
        evidence.discard(settings, names)
        await session.rollback()
        if names:
            for row in await session.scalars(
                select(EvidenceFile).where(EvidenceFile.stored_name.in_(names))
            ):
                await session.delete(row)
            await session.commit()
        if isinstance(e, ValidationError):
            raise PageRefused(422, e.errors()[0]["msg"]) from e
        raise refusal(e) from e
    return RedirectResponse(f"/inbox/directives/{directive_id}", status_code=303)


@router.post("/inbox/directives/{directive_id}/extension")
async def extension(
    directive_id: int,
    user: LeaderWeb,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    until: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(user, csrf)
    actions = await _actions(directive_id, user, session, temporal, settings)
    try:
        day = date.fromisoformat(until)
        payload = ExtensionCreate(
            until=datetime.combine(day, OFFICE_DAY_ENDS, tzinfo=VIETNAM), reason=reason.strip()
        )
        await actions.request_extension(user.principal, payload.until, payload.reason)
    except ValidationError as e:
        raise PageRefused(422, e.errors()[0]["msg"]) from e
    except ValueError as e:
        raise PageRefused(422, f"ngày không hợp lệ: {e}") from e
    except ServiceError as e:
        raise refusal(e) from e
    return RedirectResponse(f"/inbox/directives/{directive_id}", status_code=303)


@router.get("/evidence/{stored_name}")
async def evidence_file(
    stored_name: str, user: SignedIn, session: SessionDep, settings: SettingsDep
) -> Response:
    """A stored evidence file: the office, or the commune that uploaded it; 404 to anyone
    else, as for a file that does not exist."""
    row = await session.scalar(select(EvidenceFile).where(EvidenceFile.stored_name == stored_name))
    path = evidence.path_of(settings, stored_name)
    if row is None or path is None or not (user.is_office or user.commune_code == row.commune_code):
        raise PageRefused(404, "Không tìm thấy tệp.")
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.original_name,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )
