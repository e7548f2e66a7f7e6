"""The office's account pages (/accounts: list, open, disable, enable, reset, the new setup
link shown once on the answer) and the setup link's page (/setup/{token}: choose a password,
then signed in). They call the same use cases as the API (services.accounts)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.audit import audit_entry
from services.accounts import (
    SETUP_LINK_HOURS,
    AccountConflict,
    AccountError,
    AccountNotFound,
    IssuedLink,
    NewAccount,
    SetupLinkGone,
    complete_setup,
    disable_account,
    enable_account,
    list_accounts,
    open_account,
    pending_setup,
    reset_account,
    setup_url,
)
from services.password_rules import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, password_problem
from services.passwords import hash_password_async
from services.setup_mail import send_setup_link
from serving.deps import SessionDep, SettingsDep
from serving.lookup_limits import client_of
from vocabulary.roles import Role
from web.login import home_of
from web.render import render
from web.sessions import OfficeWeb, PageRefused, check_csrf, open_session, set_cookie

router = APIRouter(include_in_schema=False)
SETUP_CSRF_COOKIE = "axis_setup_csrf"
ROLES = [r.value for r in Role]
T = TypeVar("T")
TokenPath = Annotated[str, Path(min_length=1, max_length=100)]


def actor_of(username: str) -> str:
    return f"account:{username}"


def _empty_form() -> dict[str, str]:
    return {"username": "", "name": "", "role": "commune_leader", "commune_code": "", "email": ""}


async def _accounts_page(
    request: Request,
    user: OfficeWeb,
    session: SessionDep,
    *,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
    issued: dict[str, Any] | None = None,
) -> Response:
    rows = await session.run_sync(list_accounts)
    return render(
        request,
        "accounts.html",
        user,
        status_code=status_code,
        accounts=rows,
        roles=ROLES,
        form=form or _empty_form(),
        error=error,
        issued=issued,
        link_hours=SETUP_LINK_HOURS,
    )


async def _change(session: SessionDep, change: Callable[[Session], T]) -> T:
    try:
        result = await session.run_sync(change)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return result


async def _issued(settings: SettingsDep, link: IssuedLink) -> dict[str, Any]:
    return {
        "username": link.username,
        "url": setup_url(settings.public_url, link.token),
        "expires_at": link.expires_at,
        "emailed": await send_setup_link(settings, link),
        "email": link.email,
    }


@router.get("/accounts")
async def accounts(request: Request, user: OfficeWeb, session: SessionDep) -> Response:
    return await _accounts_page(request, user, session)


@router.post("/accounts")
async def create(
    request: Request,
    user: OfficeWeb,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    commune_code: Annotated[str, Form(max_length=8)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(user, csrf)
    form = {
        "username": username.strip(),
        "name": name.strip(),
        "role": role,
        "commune_code": commune_code.strip(),
        "email": email.strip(),
    }
    problem = None
    if role not in ROLES:
        problem = "Chọn một vai trò."
    elif not form["name"]:
        problem = "Nhập họ tên."
    if problem:
        return await _accounts_page(
            request, user, session, status_code=422, error=problem, form=form
        )
    new = NewAccount(
        form["username"], form["name"], Role(role), form["commune_code"] or None,
        form["email"] or None,
    )  # fmt: skip
    now, client = datetime.now(UTC), client_of(request)
    try:
        link = await _change(
            session, lambda s: open_account(s, new, actor_of(user.username), now, client)
        )
    except AccountError as e:
        code = 409 if isinstance(e, AccountConflict) else 422
        return await _accounts_page(
            request, user, session, status_code=code, error=e.message, form=form
        )
    except IntegrityError:
        return await _accounts_page(
            request, user, session, status_code=409, error="the username is taken", form=form
        )
    issued = await _issued(settings, link)
    return await _accounts_page(request, user, session, status_code=201, issued=issued)


@router.post("/accounts/{account_id}/{action}")
async def change(
    request: Request,
    account_id: int,
    action: str,
    user: OfficeWeb,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(user, csrf)
    now, client, actor = datetime.now(UTC), client_of(request), actor_of(user.username)
    try:
        if action == "disable":
            await _change(session, lambda s: disable_account(s, account_id, actor, now, client))
        elif action == "enable":
            await _change(session, lambda s: enable_account(s, account_id, actor, now, client))
        elif action == "reset":
            link = await _change(
                session, lambda s: reset_account(s, account_id, actor, now, client)
            )
            issued = await _issued(settings, link)
            return await _accounts_page(request, user, session, issued=issued)
        else:
            raise PageRefused(404, "Không có thao tác này.")
    except AccountNotFound as e:
        raise PageRefused(404, "Không tìm thấy tài khoản.") from e
    return RedirectResponse("/accounts", status_code=303)


def _setup_page(
    request: Request,
    username: str,
    name: str,
    error: str | None,
    status_code: int,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "setup.html",
        None,
        status_code=status_code,
        csrf=token,
        error=error,
        username=username,
        person_name=name,
        action=request.url.path,
        min_chars=MIN_PASSWORD_CHARS,
    )
    set_cookie(request, response, SETUP_CSRF_COOKIE, token, 3600)
    # The link is in this page's address: no other site learns it through a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _gone_page(request: Request, reason: str) -> Response:
    response = render(request, "setup_gone.html", None, status_code=410, reason=reason)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/setup/{token}")
async def setup_form(request: Request, token: TokenPath, session: SessionDep) -> Response:
    """Shows the form; the link stays unused until the form is sent."""
    now = datetime.now(UTC)
    try:
        _, account = await session.run_sync(lambda s: pending_setup(s, token, now))
    except SetupLinkGone as e:
        return _gone_page(request, e.message)
    return _setup_page(request, account.username, account.name, None, 200)


@router.post("/setup/{token}")
async def setup(
    request: Request,
    token: TokenPath,
    session: SessionDep,
    settings: SettingsDep,
    password: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS + 1)] = "",
    confirm: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS + 1)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    expected = request.cookies.get(SETUP_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        raise PageRefused(403, "Biểu mẫu đã hết hạn (CSRF). Mở lại liên kết và thử lại.")
    now = datetime.now(UTC)
    try:
        _, account = await session.run_sync(lambda s: pending_setup(s, token, now))
    except SetupLinkGone as e:
        return _gone_page(request, e.message)
    problem = password_problem(account.username, password)
    if problem is None and password != confirm:
        problem = "Hai lần nhập mật khẩu không khớp."
    if problem is not None:
        return _setup_page(request, account.username, account.name, problem, 422)
    # Off the event loop, bounded: a hash takes long enough to stall every other request.
    hashed = await hash_password_async(password)
    client = client_of(request)
    try:
        account = await _change(
            session, lambda s: complete_setup(s, token, hashed, datetime.now(UTC), client)
        )
    except SetupLinkGone as e:
        # Used by another request while the hash was being computed.
        return _gone_page(request, e.message)
    response = RedirectResponse(home_of(account.role), status_code=303)
    # The setup signs the person in: recorded like any sign-in, committed with the session.
    session.add(
        audit_entry(f"account:{account.username}", "signin.ok", account.username, client=client,
                    detail={"via": "setup_link"})
    )  # fmt: skip
    await open_session(session, settings, request, response, account.id)
    response.delete_cookie(SETUP_CSRF_COOKIE, path="/")
    return response
