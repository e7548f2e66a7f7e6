"""The steering office previews any message template for a chosen commune, without sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from jinja2 import TemplateError
from sqlalchemy import select

from activities.notifications import CONTEXT_DEFAULTS
from activities.rendering import LANGUAGES, Renderer
from api.deps import OfficeUser
from db.models import Commune, Directive, Person, RosterEntry
from services.schemas import NotificationPreview
from serving.deps import SessionDep, SettingsDep
from vocabulary.directives import NotificationKind
from vocabulary.roles import Role

router = APIRouter(prefix="/notifications", tags=["notifications"])
PREVIEW_KINDS = Literal[
    "issued", "reminder", "overdue", "escalation", "amended", "recalled", "returned",
    "extension_decided", "digest",
]  # fmt: skip
_renderer = Renderer()


@router.get("/preview")
async def preview_notification(
    user: OfficeUser,
    session: SessionDep,
    settings: SettingsDep,
    kind: PREVIEW_KINDS,
    commune_code: str,
    channel: Literal["email", "sms", "zalo"] = "email",
    language: Annotated[str, Query(pattern="^(vi|en)$")] = "vi",
    directive_id: int | None = None,
) -> NotificationPreview:
    """The message as the commune's leader would get it (a sample directive unless one is
    named, a sample link); nothing is recorded or sent."""
    commune = await session.get(Commune, commune_code)
    if commune is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown commune {commune_code}")
    directive = await session.get(Directive, directive_id) if directive_id is not None else None
    if directive_id is not None and directive is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"directive {directive_id} not found")
    leader = await session.scalar(
        select(Person.name)
        .join(RosterEntry, RosterEntry.person_id == Person.id)
        .where(RosterEntry.role == Role.COMMUNE_LEADER.value, RosterEntry.scope == commune.code)
        .order_by(Person.id)
    )
    deadline = (directive.deadline if directive else None) or datetime.now(UTC) + timedelta(days=5)
    title = directive.title if directive else "Báo cáo chuyển đổi số quý IV (mẫu)"
    link = f"{settings.public_url.rstrip('/')}/a/preview-link-not-valid"
    context = {
        **CONTEXT_DEFAULTS,
        "directive": {
            "id": directive.id if directive else 0,
            "title": title,
            "body": directive.body if directive else "Nội dung mẫu.",
        },
        "commune": {"code": commune.code, "name": commune.name},
        "recipient": {"name": leader or "Lãnh đạo UBND"},
        "deadline": deadline,
        "link": link,
        "offset_seconds": "86400",
        "level": "1",
        "to": "official_in_charge",
        "items": [
            {
                "kind": NotificationKind.REMINDER.value,
                "subject": f"[Nhắc hạn] {title}",
                "title": title,
                "deadline": deadline,
                "commune": commune.name,
                "link": link,
            }
        ],
        "count": 1,
    }
    template_channel = "email" if channel == "email" else "sms"
    try:
        message = _renderer.render(kind, template_channel, language, context)
    except TemplateError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"cannot render: {e}") from e
    assert language in LANGUAGES
    return NotificationPreview(
        kind=kind,
        channel=channel,
        language=language,
        commune_code=commune.code,
        subject=message.subject,
        body=message.body,
        characters=len(message.body),
    )
