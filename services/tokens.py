"""API tokens, managed by the steering office: open one per person or system, with a role and,
for a commune leader, the commune it is scoped to; for an official in charge, the roster person
whose communes it sees. Only the token's digest is stored; the token is shown once."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.audit import audit_entry
from db.models import ApiToken, Commune, Person, RosterEntry, Unit
from services.errors import Invalid, NotFound
from services.principals import Principal, hash_token
from services.schemas import TokenCreate
from vocabulary.roles import Role


async def _official(session: AsyncSession, email: str | None) -> int:
    """The roster person an official in charge's token stands for."""
    if not email:
        raise Invalid("an official_in_charge token needs the email of the official on the roster")
    person_id = await session.scalar(
        select(Person.id)
        .join(RosterEntry, RosterEntry.person_id == Person.id)
        .where(
            Person.email == email.lower(),
            RosterEntry.role == Role.OFFICIAL_IN_CHARGE.value,
        )
        .limit(1)
    )
    if person_id is None:
        raise Invalid(f"no official in charge on the roster has the email {email}")
    return person_id


def _expiry(payload: TokenCreate, now: datetime) -> datetime | None:
    if payload.expires_in_days is not None:
        return now + timedelta(days=payload.expires_in_days)
    if payload.expires_at is not None and payload.expires_at <= now:
        raise Invalid("expires_at is in the past: give a time in the future")
    return payload.expires_at.astimezone(UTC) if payload.expires_at else None


def _actor(user: Principal) -> str:
    return f"token:{user.token_id}"


async def open_token(
    session: AsyncSession, payload: TokenCreate, user: Principal
) -> tuple[ApiToken, str]:
    """A new token and its secret, which exists nowhere else: the caller shows it once.
    `commune_leader` needs `commune_code`; `official_in_charge` needs `email` (a roster
    official's); the other roles are province-wide and take neither."""
    person_id: int | None = None
    if payload.role == "commune_leader":
        if not payload.commune_code:
            raise Invalid("a commune_leader token needs commune_code")
        if await session.get(Commune, payload.commune_code) is None:
            raise Invalid(f"unknown commune {payload.commune_code}")
    elif payload.role == "agency_head":
        if not payload.commune_code:
            raise Invalid("an agency_head token needs commune_code: the agency's code")
        if await session.get(Unit, payload.commune_code) is None:
            raise Invalid(f"unknown agency {payload.commune_code}")
    elif payload.commune_code is not None:
        # An empty code too: it names no commune, and storing it would break the foreign key.
        raise Invalid(f"a {payload.role} token is province-wide: leave commune_code out")
    if payload.role == "official_in_charge":
        person_id = await _official(session, payload.email)
    elif payload.email is not None:
        raise Invalid(f"email names an official in charge: a {payload.role} token takes none")
    now = datetime.now(UTC)
    expires_at = _expiry(payload, now)
    secret = f"axis_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        name=payload.name,
        role=payload.role,
        commune_code=payload.commune_code,
        person_id=person_id,
        token_hash=hash_token(secret),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    session.add(
        audit_entry(
            _actor(user),
            "token.created",
            f"token:{token.id}",
            detail={
                "role": payload.role,
                "name": payload.name,
                "commune_code": payload.commune_code,
                "person_id": person_id,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    )
    await session.commit()
    return token, secret


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    """Every token, oldest first."""
    return list(await session.scalars(select(ApiToken).order_by(ApiToken.id)))


async def revoke_token(session: AsyncSession, token_id: int, user: Principal) -> None:
    """Refused from the next request on; revoking a revoked token changes nothing."""
    token = await session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        session.add(audit_entry(_actor(user), "token.revoked", f"token:{token_id}"))
        await session.commit()
