"""Rendering the pages: Jinja2 from templates/pages/app/, autoescaped, Vietnamese first with
English on request (`?lang=en` once, then a cookie)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vocabulary.calendar import VIETNAM
from vocabulary.events import AssignmentEventKind
from web.sessions import LANG_COOKIE, WebUser, set_cookie

APP_PAGES = Path(__file__).resolve().parents[1] / "templates" / "pages" / "app"
LANGUAGES = ("vi", "en")

LABELS: dict[str, tuple[str, str]] = {
    "notified": ("Đã giao", "Notified"),
    "acknowledged": ("Đã tiếp nhận", "Acknowledged"),
    "reported": ("Đã báo cáo", "Reported"),
    "returned": ("Trả lại làm lại", "Returned"),
    "completed": ("Hoàn thành", "Completed"),
    "cancelled": ("Đã thu hồi", "Cancelled"),
    "within_deadline": ("Trong hạn", "Within deadline"),
    "overdue": ("Quá hạn", "Overdue"),
    "on_time": ("Đúng hạn", "On time"),
    "late": ("Trễ hạn", "Late"),
    "issuing": ("Đang ban hành", "Issuing"),
    "active": ("Đang thực hiện", "Active"),
    "closed": ("Đã kết thúc", "Closed"),
    "recalled": ("Đã thu hồi", "Recalled"),
    "official_in_charge": ("Cán bộ phụ trách", "Official in charge"),
    "steering_office": ("Văn phòng Ban Chỉ đạo", "Steering office"),
    "commune_leader": ("Lãnh đạo xã, phường", "Commune leader"),
    "agency_head": ("Thủ trưởng cơ quan", "Agency head"),
    "committee_leader": ("Lãnh đạo Ban Chỉ đạo", "Committee leader"),
    AssignmentEventKind.ISSUED: ("Đã giao", "Issued"),
    "reminded": ("Đã nhắc", "Reminded"),
    AssignmentEventKind.ESCALATED: ("Chuyển cấp đôn đốc", "Escalated"),
    AssignmentEventKind.ACCEPTED: ("Văn phòng chấp nhận", "Accepted by the office"),
    AssignmentEventKind.AMENDED: ("Chỉ đạo được sửa đổi", "Directive amended"),
    AssignmentEventKind.EXTENSION_REQUESTED: ("Xin gia hạn", "Extension asked"),
    AssignmentEventKind.EXTENSION_GRANTED: ("Được gia hạn", "Extension granted"),
    AssignmentEventKind.EXTENSION_REFUSED: ("Không được gia hạn", "Extension refused"),
    AssignmentEventKind.REMINDERS_SKIPPED: (
        "Đã nhắc hạn sau gián đoạn",
        "Reminded after an outage",
    ),
    "green": ("Đạt", "Met"),
    "yellow": ("Cần cố gắng", "Needs effort"),
    "red": ("Chưa đạt", "Not met"),
    "none": ("Không áp dụng", "Does not apply"),
}


def language_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    stored = request.cookies.get(LANG_COOKIE)
    return stored if stored in LANGUAGES else "vi"


def local(moment: datetime | None, lang: str = "vi") -> str:
    if moment is None:
        return "—"
    value = moment.astimezone(VIETNAM)
    return value.strftime("%H:%M %d/%m/%Y") if lang == "vi" else value.strftime("%d %b %Y %H:%M")


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(APP_PAGES)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: Request,
    name: str,
    user: WebUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = language_of(request)

    def tr(vi: str, en: str) -> str:
        return vi if lang == "vi" else en

    def label(key: str | None) -> str:
        if key is None:
            return "—"
        pair = LABELS.get(key)
        return key if pair is None else pair[0 if lang == "vi" else 1]

    other = "en" if lang == "vi" else "vi"
    query = dict(request.query_params) | {"lang": other}
    switch = request.url.path + "?" + urlencode(query)
    html = (
        environment()
        .get_template(name)
        .render(
            request=request,
            user=user,
            lang=lang,
            tr=tr,
            label=label,
            when=lambda m: local(m, lang),
            switch_url=switch,
            switch_name="English" if lang == "vi" else "Tiếng Việt",
            path=request.url.path,
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    if request.query_params.get("lang") in LANGUAGES:
        set_cookie(request, response, LANG_COOKIE, lang, 365 * 86400)
    return response
