"""Who calls the API: the bearer token's person as `CurrentUser`, and the roles a route is for
(`OfficeUser`, `LeaderUser`). The request's session, settings and Temporal client are in
`serving.deps`, shared with the pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiToken
from services.principals import Principal, hash_token, official_communes, require_role
from serving.deps import SessionDep
from vocabulary.roles import ASSIGNEE_ROLES, Role

# A token's last use is written at most this often (shown in GET /tokens to the minute).
LAST_USED_EVERY = timedelta(minutes=1)
_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/tokens")


# What a request reads of its token: its columns, not an ORM object (every request pays it).
_TOKEN_COLUMNS = select(
    ApiToken.id,
    ApiToken.name,
    ApiToken.role,
    ApiToken.commune_code,
    ApiToken.revoked_at,
    ApiToken.expires_at,
    ApiToken.last_used_at,
    ApiToken.person_id,
)


async def note_token_use(
    session: AsyncSession, token_id: int, last_used_at: datetime | None, now: datetime
) -> None:
    """Record when a token was last used, at most once per LAST_USED_EVERY per token: a write
    on every request would double the database's work for every read. The WHERE makes two API
    processes racing on the same token write once."""
    if last_used_at is not None and now - last_used_at < LAST_USED_EVERY:
        return
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
    )
    await session.commit()


async def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = (
        await session.execute(
            _TOKEN_COLUMNS.where(ApiToken.token_hash == hash_token(credentials.credentials))
        )
    ).first()
    if token is None or token.revoked_at is not None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the token is unknown or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    now = datetime.now(UTC)
    if token.expires_at is not None and token.expires_at <= now:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the token has expired",
            headers={"WWW-Authenticate": "Bearer"},
        )
    role = Role(token.role)
    communes = (
        await official_communes(session, token.person_id)
        if role == Role.OFFICIAL_IN_CHARGE
        else frozenset()
    )
    await note_token_use(session, token.id, token.last_used_at, now)
    return Principal(
        token_id=token.id,
        name=token.name,
        role=role,
        commune_code=token.commune_code,
        communes=communes,
    )


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def check(user: CurrentUser) -> Principal:
        require_role(user, *roles)
        return user

    return check


OfficeUser = Annotated[Principal, Depends(require(Role.STEERING_OFFICE))]
LeaderUser = Annotated[Principal, Depends(require(Role.COMMUNE_LEADER))]
# Who answers an assignment: a commune's leader, or an agency's head for a plan's task.
AssigneeUser = Annotated[Principal, Depends(require(*ASSIGNEE_ROLES))]


def check_commune_scope(user: Principal, commune_code: str | None, not_found: str) -> None:
    """Another commune's object answers exactly as a missing one would (404, the caller's own
    not-found message), so that nobody can probe which ids exist elsewhere."""
    if not user.may_see(commune_code):
        raise HTTPException(status.HTTP_404_NOT_FOUND, not_found)
