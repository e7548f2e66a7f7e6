"""Dependencies every route reads like a sentence with: `SessionDep`, `TemporalDep`,
`CurrentUser`, `OfficeUser`."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

import tracing
from config import Settings
from db.models import ApiToken, RosterEntry
from vocabulary.roles import Role

TEMPORAL_CONNECT_SECONDS = 5.0
# A token's last use is written at most this often (shown in GET /tokens to the minute).
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    token_id: int
    name: str
    role: Role
    commune_code: str | None
    # An official in charge's communes, from the roster; unused for the other roles.
    communes: frozenset[str] = frozenset()

    @property
    def actor(self) -> str:
        return f"{self.role.value}:{self.name}"

    @property
    def scope(self) -> frozenset[str] | None:
        """The communes this person may see: None for the whole province (the steering office,
        a reader), their own for a commune leader, the roster's for an official in charge (none
        when the roster names none: a token that lost its person sees nothing, not everything)."""
        if self.role == Role.COMMUNE_LEADER:
            return frozenset({self.commune_code}) if self.commune_code else frozenset()
        if self.role == Role.OFFICIAL_IN_CHARGE:
            return self.communes
        return None

    def may_see(self, commune_code: str | None) -> bool:
        """Whether one object of this commune is this person's to read (None: not yet routed to
        a commune, which only the province sees)."""
        scope = self.scope
        return scope is None or (commune_code is not None and commune_code in scope)

    def communes_filter(self, requested: str | None = None) -> frozenset[str] | None:
        """The communes a list is limited to: the one asked for, within this person's scope.
        Asking for a commune outside it is refused (403): commune codes are public, so the
        refusal tells nothing that the code does not."""
        scope = self.scope
        if requested is None:
            return scope
        if scope is not None and requested not in scope:
            raise HTTPException(status.HTTP_403_FORBIDDEN, self._outside_scope)
        return frozenset({requested})

    def commune_filter(self, requested: str | None = None) -> str | None:
        """The one commune a list is limited to: a leader's own (asking for another is refused),
        or whatever the office, an official or a reader asked for. Lists an official reads go
        through `communes_filter` instead."""
        if self.role != Role.COMMUNE_LEADER:
            return requested
        if requested is not None and requested != self.commune_code:
            raise HTTPException(status.HTTP_403_FORBIDDEN, self._outside_scope)
        return self.commune_code

    @property
    def _outside_scope(self) -> str:
        if self.role == Role.OFFICIAL_IN_CHARGE:
            return "an official in charge sees the communes they answer for only"
        return "a commune leader acts on their own commune only"


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
                        Client.connect(
                            self.address,
                            namespace=self._namespace,
                            # The API's starts, updates and signals join the request's trace.
                            interceptors=tracing.client_interceptors(),
                        ),
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


async def official_communes(session: AsyncSession, person_id: int | None) -> frozenset[str]:
    """The communes the roster puts in this person's charge as official in charge."""
    if person_id is None:
        return frozenset()
    rows = await session.scalars(
        select(RosterEntry.scope).where(
            RosterEntry.person_id == person_id, RosterEntry.role == Role.OFFICIAL_IN_CHARGE.value
        )
    )
    return frozenset(rows)


async def note_token_use(session: AsyncSession, token: ApiToken, now: datetime) -> None:
    """Record when a token was last used, at most once per LAST_USED_EVERY per token: a write
    on every request would double the database's work for every read. The WHERE makes two API
    processes racing on the same token write once."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token.id,
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
    token = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(credentials.credentials))
    )
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
    await note_token_use(session, token, now)
    return Principal(
        token_id=token.id,
        name=token.name,
        role=role,
        commune_code=token.commune_code,
        communes=communes,
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


def check_commune_scope(user: Principal, commune_code: str | None, not_found: str) -> None:
    """Another commune's object answers exactly as a missing one would (404, the caller's own
    not-found message), so that nobody can probe which ids exist elsewhere."""
    if not user.may_see(commune_code):
        raise HTTPException(status.HTTP_404_NOT_FOUND, not_found)
