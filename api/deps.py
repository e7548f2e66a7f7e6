"""Dependencies every route reads like a sentence with: `SessionDep`, `TemporalDep`,
`CurrentUser`, `OfficeUser`."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from config import Settings
from db.models import ApiToken
from workflows.types import Role

TEMPORAL_CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class Principal:
    token_id: int
    name: str
    role: Role
    commune_code: str | None

    @property
    def actor(self) -> str:
        return f"{self.role.value}:{self.name}"

    def commune_filter(self, requested: str | None = None) -> str | None:
        """The commune a list is limited to: a leader's own (asking for another is refused),
        or whatever the office, an official or a reader asked for."""
        if self.role != Role.COMMUNE_LEADER:
            return requested
        if requested is not None:
            check_commune_scope(self, requested)
        return self.commune_code


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TemporalGateway:
    """One client per API process, connected on first use so the API starts (and reports its
    health) even while Temporal is down."""

    def __init__(self, address: str, namespace: str) -> None:
        self.address = address
        self._namespace = namespace
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(
                        Client.connect(self.address, namespace=self._namespace),
                        TEMPORAL_CONNECT_SECONDS,
                    )
                except (RuntimeError, TimeoutError) as e:
                    raise HTTPException(
                        status.HTTP_503_SERVICE_UNAVAILABLE,
                        f"the workflow engine (Temporal at {self.address}) is not reachable",
                    ) from e
        return self._client


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with maker() as session:
        yield session


async def get_temporal(request: Request) -> Client:
    gateway: TemporalGateway = request.app.state.temporal
    return await gateway.get()


SettingsDep = Annotated[Settings, Depends(settings_of)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/tokens")


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
    token = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(credentials.credentials))
    )
    if token is None or token.revoked_at is not None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the token is unknown or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Principal(
        token_id=token.id, name=token.name, role=Role(token.role), commune_code=token.commune_code
    )


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    allowed = ", ".join(r.value for r in roles)

    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this action is for the role(s): {allowed}"
            )
        return user

    return check


OfficeUser = Annotated[Principal, Depends(require(Role.STEERING_OFFICE))]
LeaderUser = Annotated[Principal, Depends(require(Role.COMMUNE_LEADER))]


def check_commune_scope(user: Principal, commune_code: str) -> None:
    """A commune leader sees and touches their own commune only."""
    if user.role == Role.COMMUNE_LEADER and user.commune_code != commune_code:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "a commune leader acts on their own commune only"
        )
