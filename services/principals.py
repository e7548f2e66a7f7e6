"""Who is acting: a person's role, name and the communes they may see, as every use case
receives it from the API's bearer token or the pages' session cookie."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RosterEntry
from services.errors import Forbidden
from vocabulary.roles import ASSIGNEE_ROLES, Role


@dataclass(frozen=True)
class Principal:
    token_id: int
    name: str
    role: Role
    commune_code: str | None
    # A commune leader's commune or an agency head's agency (a `units` code).
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
        if self.role in ASSIGNEE_ROLES:
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
        Asking for a commune outside it is refused (Forbidden): commune codes are public, so the
        refusal tells nothing that the code does not."""
        scope = self.scope
        if requested is None:
            return scope
        if scope is not None and requested not in scope:
            raise Forbidden(self._outside_scope)
        return frozenset({requested})

    def commune_filter(self, requested: str | None = None) -> str | None:
        """The one commune a list is limited to: a leader's own (asking for another is refused),
        or whatever the office, an official or a reader asked for. Lists an official reads go
        through `communes_filter` instead."""
        if self.role not in ASSIGNEE_ROLES:
            return requested
        if requested is not None and requested != self.commune_code:
            raise Forbidden(self._outside_scope)
        return self.commune_code

    @property
    def _outside_scope(self) -> str:
        if self.role == Role.OFFICIAL_IN_CHARGE:
            return "an official in charge sees the communes they answer for only"
        if self.role == Role.AGENCY_HEAD:
            return "an agency head acts on their own agency only"
        return "a commune leader acts on their own commune only"


def hash_token(token: str) -> str:
    """What is stored of a bearer token, a session id or a setup link: its SHA-256, never the
    token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def official_communes_query(person_id: int) -> Select[str]:
    """The communes the roster puts in this person's charge as official in charge."""
    return select(RosterEntry.scope).where(
        RosterEntry.person_id == person_id, RosterEntry.role == Role.OFFICIAL_IN_CHARGE.value
    )


async def official_communes(session: AsyncSession, person_id: int | None) -> frozenset[str]:
    if person_id is None:
        return frozenset()
    return frozenset(await session.scalars(official_communes_query(person_id)))


def require_role(user: Principal, *roles: Role) -> None:
    """An action some roles only take: the API's role-bound routes and the use cases refuse with
    the same words."""
    if user.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"this action is for the role(s): {allowed}")
