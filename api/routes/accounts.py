"""Accounts for the pages, managed by the steering office: open one (the answer carries its
setup link, shown once, and emails it when the account has an address and SMTP is set), list
them, disable, enable, and reset (a new setup link; the older ones stop working). The use cases
are `services.accounts`; their refusals answer through `api/errors.py`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, status

from api.deps import OfficeUser
from config import Settings
from services.account_schemas import AccountCreate, AccountLink, AccountPublic, AccountsPublic
from services.accounts import (
    IssuedLink,
    NewAccount,
    commit_change,
    disable_account,
    enable_account,
    list_accounts,
    open_account,
    reset_account,
    setup_url,
)
from services.principals import Principal
from services.setup_mail import send_setup_link
from serving.deps import SessionDep, SettingsDep
from serving.lookup_limits import client_of
from vocabulary.roles import Role

router = APIRouter(prefix="/accounts", tags=["accounts"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No account with this id"}}
REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the steering office"},
    409: {"description": "The username is taken"},
    422: {
        "description": "A bad username, a leader without a commune, an unknown commune, or a "
        "commune on another role"
    },
}


def actor_of(user: Principal) -> str:
    return f"token:{user.token_id}"


async def link_answer(settings: Settings, link: IssuedLink) -> AccountLink:
    return AccountLink(
        id=link.account_id,
        username=link.username,
        role=link.role,
        commune_code=link.commune_code,
        setup_url=setup_url(settings.public_url, link.token),
        setup_expires_at=link.expires_at,
        emailed=await send_setup_link(settings, link),
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=REFUSED)
async def create_account(
    payload: AccountCreate,
    user: OfficeUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> AccountLink:
    """Open an account without a password; the person chooses one through `setup_url`."""
    new = NewAccount(
        username=payload.username,
        name=payload.name,
        role=Role(payload.role),
        commune_code=payload.commune_code or None,
        email=payload.email or None,
    )
    now, client = datetime.now(UTC), client_of(request)
    link = await commit_change(session, lambda s: open_account(s, new, actor_of(user), now, client))
    return await link_answer(settings, link)


@router.get("")
async def get_accounts(user: OfficeUser, session: SessionDep) -> AccountsPublic:
    """Every account, oldest first; no password hashes, only whether a password is set."""
    rows = await session.run_sync(list_accounts)
    return AccountsPublic(data=rows, count=len(rows))


@router.post("/{account_id}/disable", responses=NOT_FOUND)
async def disable(
    account_id: int, user: OfficeUser, session: SessionDep, request: Request
) -> AccountPublic:
    """Refused at sign-in from now on; its open sessions end at their next request."""
    now, client = datetime.now(UTC), client_of(request)
    await commit_change(
        session, lambda s: disable_account(s, account_id, actor_of(user), now, client)
    )
    return await _one(session, account_id)


@router.post("/{account_id}/enable", responses=NOT_FOUND)
async def enable(
    account_id: int, user: OfficeUser, session: SessionDep, request: Request
) -> AccountPublic:
    now, client = datetime.now(UTC), client_of(request)
    await commit_change(
        session, lambda s: enable_account(s, account_id, actor_of(user), now, client)
    )
    return await _one(session, account_id)


@router.post("/{account_id}/reset", responses=NOT_FOUND)
async def reset(
    account_id: int,
    user: OfficeUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> AccountLink:
    """A new setup link; every older one stops working. Nothing else changes until the person
    uses it (a password already set keeps working until then)."""
    now, client = datetime.now(UTC), client_of(request)
    link = await commit_change(
        session, lambda s: reset_account(s, account_id, actor_of(user), now, client)
    )
    return await link_answer(settings, link)


async def _one(session: SessionDep, account_id: int) -> AccountPublic:
    rows = await session.run_sync(lambda s: list_accounts(s, only=account_id))
    return rows[0]
