"""One-click acknowledgement from a message: `GET /a/{token}` shows what would be
acknowledged and a button, and changes nothing (mail scanners open links); the button's
`POST /a/{token}` acknowledges through the same workflow update as the API, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from activities.links import LINK_PATH, AckLink, LinkError, resolve_link_keys, verify_link
from api.pages import page
from api.rate_limits import limit_link_posts
from config import Settings
from db.models import Assignment, Commune, Directive, UsedLink
from db.upsert import insert_ignoring_duplicates
from services import assignments
from services.assignments import AlreadyAcknowledged
from services.errors import ServiceError
from serving.deps import SessionDep, SettingsDep, TemporalDep, ThreadSessionsDep
from serving.error_status import status_of
from vocabulary.directives import CLOSED_STATUSES, AssignmentStatus

router = APIRouter(tags=["acknowledgement links"])
PAGE = "acknowledge.html.j2"


@dataclass(frozen=True)
class Refusal:
    status_code: int
    heading_vi: str
    message_vi: str
    heading_en: str
    message_en: str


TAMPERED = Refusal(
    400,
    "Liên kết không hợp lệ",
    "Liên kết này không đúng hoặc đã bị sửa. Không có thay đổi nào được ghi nhận.",
    "Invalid link",
    "This link is not valid or has been altered. Nothing was changed.",
)
EXPIRED = Refusal(
    410,
    "Liên kết đã hết hạn",
    "Liên kết này đã hết hạn. Đề nghị xác nhận trên hệ thống hoặc dùng thông báo mới nhất.",
    "Link expired",
    "This link has expired. Please acknowledge in the system or use the latest message.",
)
SUPERSEDED = Refusal(
    410,
    "Nội dung chỉ đạo đã thay đổi",
    "Chỉ đạo đã được sửa sau khi thông báo này được gửi. Đề nghị dùng liên kết trong thông báo"
    " mới nhất.",
    "The directive has changed",
    "The directive was amended after this message was sent. Please use the latest message.",
)
NOT_FOUND = Refusal(
    404,
    "Không tìm thấy nhiệm vụ",
    "Không có nhiệm vụ nào ứng với liên kết này.",
    "Task not found",
    "No task matches this link.",
)
USED = Refusal(
    409,
    "Liên kết đã được sử dụng",
    "Liên kết này đã được dùng để xác nhận. Không cần làm gì thêm.",
    "Link already used",
    "This link has already been used to acknowledge. Nothing more is needed.",
)


def link_keys(request: Request, settings: Settings) -> list[str]:
    keys: list[str] | None = getattr(request.app.state, "link_keys", None)
    if keys is None:
        keys = resolve_link_keys(settings.link_keys, settings.data_dir)
        request.app.state.link_keys = keys
    return keys


def refused(refusal: Refusal, **context: Any) -> HTMLResponse:
    return page(
        PAGE,
        refusal.status_code,
        state="refused",
        heading_vi=refusal.heading_vi,
        message_vi=refusal.message_vi,
        heading_en=refusal.heading_en,
        message_en=refusal.message_en,
        directive_title=context.get("directive_title", ""),
        commune_name=context.get("commune_name", ""),
        action="",
    )


async def _check(
    request: Request, token: str, session: SessionDep, settings: Settings
) -> tuple[AckLink, Directive, str] | HTMLResponse:
    """The link's assignment when the link may be followed; otherwise the page saying why."""
    try:
        link = verify_link(link_keys(request, settings), token, datetime.now(UTC))
    except LinkError as e:
        return refused(EXPIRED if e.reason == "expired" else TAMPERED)
    directive = await session.get(Directive, link.directive_id)
    assignment = await session.scalar(
        select(Assignment.id).where(
            Assignment.directive_id == link.directive_id,
            Assignment.commune_code == link.commune_code,
        )
    )
    if directive is None or assignment is None:
        return refused(NOT_FOUND)
    commune = await session.get(Commune, link.commune_code)
    names = {"directive_title": directive.title, "commune_name": commune.name if commune else ""}
    if directive.content_revision != link.content_revision:
        return refused(SUPERSEDED, **names)
    used = await session.scalar(select(UsedLink.id).where(UsedLink.link_id == link.link_id))
    if used is not None:
        return refused(USED, **names)
    return link, directive, names["commune_name"]


@router.api_route(LINK_PATH + "{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def show_acknowledgement(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """What the link would acknowledge, and the button. Opening it changes nothing."""
    checked = await _check(request, token, session, settings)
    if isinstance(checked, HTMLResponse):
        return checked
    _, directive, commune_name = checked
    return page(
        PAGE,
        state="confirm",
        heading_vi="Xác nhận đã nhận nhiệm vụ",
        message_vi="Bấm nút dưới đây để xác nhận đơn vị đã nhận nhiệm vụ này.",
        heading_en="Acknowledge the task",
        message_en="Press the button to acknowledge that your commune has received this task.",
        directive_title=directive.title,
        commune_name=commune_name,
        action=f"{LINK_PATH}{token}",
    )


@router.post(
    LINK_PATH + "{token}", include_in_schema=False, dependencies=[Depends(limit_link_posts)]
)
async def acknowledge_by_link(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    threads: ThreadSessionsDep,
) -> HTMLResponse:
    """Acknowledge through the assignment workflow's own update; a link works once, and a
    second click (of this or another link) says it is already done, with no second effect."""
    checked = await _check(request, token, session, settings)
    if isinstance(checked, HTMLResponse):
        return checked
    link, directive, commune_name = checked
    names: dict[str, Any] = {"directive_title": directive.title, "commune_name": commune_name}
    already = False
    try:
        await assignments.acknowledge_by_link(
            session,
            temporal,
            settings,
            link.directive_id,
            link.commune_code,
            link.link_id,
            threads,
        )
    except AlreadyAcknowledged:
        already = True
    except ServiceError as e:
        status_code = status_of(e)
        current = await session.scalar(
            select(Assignment.status).where(
                Assignment.directive_id == link.directive_id,
                Assignment.commune_code == link.commune_code,
            )
        )
        closed = current is not None and AssignmentStatus(current) in CLOSED_STATUSES
        return refused(
            Refusal(
                409 if closed or status_code == 409 else status_code,
                "Không thể xác nhận",
                "Nhiệm vụ đã kết thúc."
                if closed
                else "Hệ thống chưa xác nhận được, đề nghị thử lại.",
                "Cannot acknowledge",
                "The task is closed." if closed else "It could not be recorded yet; try again.",
            ),
            **names,
        )
    await session.execute(
        insert_ignoring_duplicates(
            UsedLink.__table__,  # type: ignore[arg-type]
            session.get_bind().dialect.name,
            [
                {
                    "link_id": link.link_id,
                    "directive_id": link.directive_id,
                    "commune_code": link.commune_code,
                    "used_at": datetime.now(UTC),
                }
            ],
        )
    )
    await session.commit()
    if already:
        return page(
            PAGE,
            state="done",
            heading_vi="Đã xác nhận trước đó",
            message_vi="Nhiệm vụ này đã được xác nhận. Không cần làm gì thêm.",
            heading_en="Already acknowledged",
            message_en="This task was already acknowledged. Nothing more is needed.",
            action="",
            **names,
        )
    return page(
        PAGE,
        state="done",
        heading_vi="Đã xác nhận",
        message_vi="Cảm ơn. Việc nhận nhiệm vụ đã được ghi nhận.",
        heading_en="Acknowledged",
        message_en="Thank you. Receipt of the task has been recorded.",
        action="",
        **names,
    )
