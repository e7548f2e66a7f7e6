"""Signed-in browsers: a session cookie (a random id, HMAC-signed, HttpOnly, SameSite=Lax,
Secure except on plain HTTP to this machine), the session's CSRF token that every form sends
back, and the dependencies pages read the signed-in person from."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from db.models import WebAccount, WebSession
from secret_files import read_or_create
from services.principals import Principal, hash_token, official_communes
from serving.deps import SessionDep
from vocabulary.roles import ASSIGNEE_ROLES, Role

SESSION_COOKIE = "axis_session"
LOGIN_CSRF_COOKIE = "axis_login_csrf"
LANG_COOKIE = "axis_lang"


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to /login."""


class PageRefused(Exception):
    """A page this person may not see or an action they may not take: 403 or 404 as HTML.
    Another commune's object is 404, worded as a missing one, so ids cannot be probed."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class WebUser:
    account_id: int
    username: str
    principal: Principal
    csrf_token: str

    @property
    def is_office(self) -> bool:
        return self.principal.role == Role.STEERING_OFFICE

    @property
    def commune_code(self) -> str | None:
        return self.principal.commune_code


def session_secret(settings: Settings) -> bytes:
    """AXIS_SESSION_SECRET, or a key made once and kept under the data directory, so every
    API process of one installation signs alike."""
    if settings.session_secret:
        return settings.session_secret.encode()
    # Processes starting together on one data directory: the first to name the file wins and
    # the others read its key, private (0600) from the moment it exists.
    path = settings.data_dir / "session-secret"
    return read_or_create(path, lambda: secrets.token_urlsafe(32)).encode()


def sign(secret: bytes, value: str) -> str:
    mac = hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()
    return f"{value}.{mac}"


def unsign(secret: bytes, signed: str) -> str | None:
    value, _, mac = signed.rpartition(".")
    if not value or not hmac.compare_digest(
        mac, hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()
    ):
        return None
    return value


def cookie_is_secure(request: Request) -> bool:
    """Secure everywhere except plain HTTP to a loopback address (`make run` on a laptop),
    where a browser would drop a Secure cookie."""
    if request.url.scheme == "https":
        return True
    host = request.url.hostname or ""
    try:
        return not ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request),
        path="/",
    )


async def open_session(
    session: AsyncSession, settings: Settings, request: Request, response: Response, account_id: int
) -> None:
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        WebSession(
            token_hash=hash_token(token),
            account_id=account_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
        )
    )
    # Expired sessions of this person go when they sign in again.
    await session.execute(
        delete(WebSession).where(WebSession.account_id == account_id, WebSession.expires_at < now)
    )
    await session.commit()
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        sign(session_secret(settings), token),
        settings.session_hours * 3600,
    )


def _session_token(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    return unsign(session_secret(request.app.state.settings), raw)


async def close_session(session: AsyncSession, request: Request, response: Response) -> None:
    token = _session_token(request)
    if token is not None:
        await session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))
        await session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")


async def optional_user(request: Request, session: SessionDep) -> WebUser | None:
    token = _session_token(request)
    if token is None:
        return None
    row = (
        await session.execute(
            select(WebSession, WebAccount)
            .join(WebAccount, WebAccount.id == WebSession.account_id)
            .where(WebSession.token_hash == hash_token(token))
        )
    ).first()
    if row is None:
        return None
    web_session, account = row
    if web_session.expires_at <= datetime.now(UTC) or account.disabled_at is not None:
        return None
    role = Role(account.role)
    return WebUser(
        account_id=account.id,
        username=account.username,
        principal=Principal(
            token_id=0,
            name=account.name,
            role=role,
            commune_code=account.commune_code,
            # Read at every request, as the token's are: a roster change applies at once.
            communes=(
                await official_communes(session, account.person_id)
                if role == Role.OFFICIAL_IN_CHARGE
                else frozenset()
            ),
        ),
        csrf_token=web_session.csrf_token,
    )


async def signed_in(user: Annotated[WebUser | None, Depends(optional_user)]) -> WebUser:
    if user is None:
        raise LoginRequired()
    return user


async def office_only(user: Annotated[WebUser, Depends(signed_in)]) -> WebUser:
    if not user.is_office:
        raise PageRefused(403, "Trang này dành cho Văn phòng Ban Chỉ đạo.")
    return user


async def leader_only(user: Annotated[WebUser, Depends(signed_in)]) -> WebUser:
    if user.principal.role not in ASSIGNEE_ROLES or user.commune_code is None:
        raise PageRefused(403, "Trang này dành cho lãnh đạo xã, phường và thủ trưởng cơ quan.")
    return user


MaybeUser = Annotated[WebUser | None, Depends(optional_user)]
SignedIn = Annotated[WebUser, Depends(signed_in)]
OfficeWeb = Annotated[WebUser, Depends(office_only)]
LeaderWeb = Annotated[WebUser, Depends(leader_only)]


def check_csrf(user: WebUser, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, user.csrf_token):
        raise PageRefused(403, "Biểu mẫu đã hết hạn hoặc không hợp lệ (CSRF). Tải lại trang.")
