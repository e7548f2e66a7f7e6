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
from sqlalchemy.orm import Session

from db.models import ApiToken
from services.principals import Principal, hash_token, official_communes_query, require_role
from serving.deps import ThreadSessionsDep
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


def note_token_use(
    session: Session, token_id: int, last_used_at: datetime | None, now: datetime
) -> None:
    """Record when a token was last used, at most once per LAST_USED_EVERY per token: a write
    on every request would double the database's work for every read. The WHERE makes two API
    processes racing on the same token write once."""
    if last_used_at is not None and now - last_used_at < LAST_USED_EVERY:
        return
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
    )


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


def principal_of_token(session: Session, token_hash: str, now: datetime) -> Principal:
    """The token's person, their role and communes; its use noted."""
    token = session.execute(_TOKEN_COLUMNS.where(ApiToken.token_hash == token_hash)).first()
    if token is None or token.revoked_at is not None:
        raise _unauthorized("the token is unknown or revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise _unauthorized("the token has expired")
    role = Role(token.role)
    communes = (
        frozenset(session.scalars(official_communes_query(token.person_id)))
        if role == Role.OFFICIAL_IN_CHARGE and token.person_id is not None
        else frozenset()
    )
    note_token_use(session, token.id, token.last_used_at, now)
    return Principal(
        token_id=token.id,
        name=token.name,
        role=role,
        commune_code=token.commune_code,
        communes=communes,
    )


async def current_user(
    sessions: ThreadSessionsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("a bearer token is required")
    token_hash, now = hash_token(credentials.credentials), datetime.now(UTC)
    return await sessions.run(lambda session: principal_of_token(session, token_hash, now))


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
