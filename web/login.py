"""Sign-in and sign-out. The sign-in form carries a CSRF token of its own (a cookie and the
same value in the form), since no session exists yet."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from config import Settings
from db.audit import audit_entry
from db.models import WebAccount
from services.passwords import DUMMY_HASH, hash_password_async, needs_rehash, verify_password_async
from serving.deps import SessionDep, SettingsDep
from serving.lookup_limits import RateLimiter, client_of, counts_of
from vocabulary.roles import ASSIGNEE_ROLES
from web.render import render
from web.sessions import (
    LOGIN_CSRF_COOKIE,
    MaybeUser,
    PageRefused,
    SignedIn,
    check_csrf,
    close_session,
    open_session,
    set_cookie,
)

router = APIRouter(include_in_schema=False)
LOGIN_LIMITED = "too many wrong passwords; try again later"


def _limits(request: Request, name: str) -> list[tuple[RateLimiter, str]]:
    """Guessing passwords, counted in the database so every API process sees one count: per
    address and username, and per username from every address (a guesser who spreads over
    many addresses still stops)."""
    settings: Settings = request.app.state.settings
    counts, window = counts_of(request), settings.login_window_seconds
    return [
        (
            RateLimiter(counts, "login", settings.login_max_failures, window, LOGIN_LIMITED),
            f"{client_of(request)}|{name}",
        ),
        (
            RateLimiter(
                counts, "login-user", settings.login_username_max_failures, window, LOGIN_LIMITED
            ),
            name,
        ),
    ]


def _refusal(account: WebAccount | None, valid: bool, settings: Settings) -> tuple[str, str] | None:
    """Why a sign-in is refused, as (audit action, reason), or None when it may go ahead."""
    if account is None:
        return "signin.failed", "unknown_username"
    if not account.password_hash:
        return "signin.failed", "no_password_yet"
    if not valid:
        return "signin.failed", "wrong_password"
    if account.disabled_at is not None:
        return "signin.failed", "disabled"
    if account.demo and not settings.demo_mode:
        # A demo account's row outlives the demo (an earlier run, a copied database); its
        # password is printed in the README, so outside demo mode (the same test
        # `migrate.prepare_database` makes demo accounts by) it never opens a session.
        return "signin.refused_demo", "demo_account_outside_demo_mode"
    return None


def home_of(role: str) -> str:
    return "/inbox" if role in {r.value for r in ASSIGNEE_ROLES} else "/"


def safe_next(target: str | None) -> str | None:
    # Only a path on this site: never an address elsewhere (//evil.example, https://…).
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _login_page(request: Request, error: str | None, status_code: int, username: str) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        csrf=token,
        error=error,
        username=username,
        next=safe_next(request.query_params.get("next")) or "",
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.get("/login")
async def login_form(request: Request, user: MaybeUser) -> Response:
    if user is not None:
        return RedirectResponse(home_of(user.principal.role.value), status_code=303)
    return _login_page(request, None, 200, "")


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        raise PageRefused(403, "Biểu mẫu đăng nhập đã hết hạn (CSRF). Tải lại trang.")
    name = username.strip().lower()
    limits = _limits(request, name)
    try:
        for limiter, key in limits:
            await limiter.check(key)
    except HTTPException as e:
        raise PageRefused(429, "Sai mật khẩu quá nhiều lần; thử lại sau ít phút.") from e
    account = await session.scalar(select(WebAccount).where(WebAccount.username == name))
    # An unknown name or an account without a password yet costs one hash too: the time taken
    # must not tell which names exist.
    stored = account.password_hash if account is not None and account.password_hash else DUMMY_HASH
    valid = await verify_password_async(password, stored)
    refused = _refusal(account, valid, settings)
    if account is None or refused is not None:
        action, reason = refused or ("signin.failed", "unknown_username")
        # The person sees one answer whatever the reason; the office's audit log tells them apart.
        session.add(
            audit_entry(
                "anonymous", action, name, client=client_of(request), detail={"reason": reason}
            )
        )
        await session.commit()
        for limiter, key in limits:
            await limiter.fail(key)
        return _login_page(request, "Sai tên đăng nhập hoặc mật khẩu.", 401, username)
    if needs_rehash(account.password_hash):
        # Hashes from before argon2id (or at a lower cost) are replaced while the password is
        # at hand, so old hashes fade out without anyone resetting a password.
        account.password_hash = await hash_password_async(password)
    session.add(
        audit_entry(
            f"account:{account.username}", "signin.ok", account.username, client=client_of(request)
        )
    )
    response = RedirectResponse(safe_next(next) or home_of(account.role), status_code=303)
    # Commits the session, the audit entry and any new hash together.
    await open_session(session, settings, request, response, account.id)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(
    request: Request,
    user: SignedIn,
    session: SessionDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(user, csrf)
    session.add(
        audit_entry(f"account:{user.username}", "signout", user.username, client=client_of(request))
    )
    response = RedirectResponse("/login", status_code=303)
    # Deletes the session row and commits it with the audit entry.
    await close_session(session, request, response)
    return response
