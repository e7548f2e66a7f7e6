"""API tokens: the steering office creates one per person or system, with a role and, for a
commune leader, the commune it is scoped to; for an official in charge, the roster person whose
communes it sees. A token may expire; its last use is kept to the minute."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from api.deps import OfficeUser
from api.rate_limits import limit_token_creation
from db.audit import audit_entry
from db.models import ApiToken, Commune, Person, RosterEntry
from services.principals import Principal, hash_token
from services.schemas import TokenCreate, TokenCreated, TokenPublic, TokensPublic
from serving.deps import SessionDep
from vocabulary.roles import Role

router = APIRouter(prefix="/tokens", tags=["tokens"])


def _refuse(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


async def _official(session: SessionDep, email: str | None) -> int:
    """The roster person an official in charge's token stands for."""
    if not email:
        raise _refuse("an official_in_charge token needs the email of the official on the roster")
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
        raise _refuse(f"no official in charge on the roster has the email {email}")
    return person_id


def _expiry(payload: TokenCreate, now: datetime) -> datetime | None:
    if payload.expires_in_days is not None:
        return now + timedelta(days=payload.expires_in_days)
    if payload.expires_at is not None and payload.expires_at <= now:
        raise _refuse("expires_at is in the past: give a time in the future")
    return payload.expires_at.astimezone(UTC) if payload.expires_at else None


def _actor(user: Principal) -> str:
    return f"token:{user.token_id}"


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Depends(limit_token_creation)])
async def create_token(payload: TokenCreate, user: OfficeUser, session: SessionDep) -> TokenCreated:
    """A new token, shown once. `commune_leader` needs `commune_code`; `official_in_charge`
    needs `email` (a roster official's); the other roles are province-wide and take neither."""
    person_id: int | None = None
    if payload.role == "commune_leader":
        if not payload.commune_code:
            raise _refuse("a commune_leader token needs commune_code")
        if await session.get(Commune, payload.commune_code) is None:
            raise _refuse(f"unknown commune {payload.commune_code}")
    elif payload.commune_code is not None:
        # An empty code too: it names no commune, and storing it would break the foreign key.
        raise _refuse(f"a {payload.role} token is province-wide: leave commune_code out")
    if payload.role == "official_in_charge":
        person_id = await _official(session, payload.email)
    elif payload.email is not None:
        raise _refuse(f"email names an official in charge: a {payload.role} token takes none")
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
    return TokenCreated(
        **TokenPublic.model_validate(token, from_attributes=True).model_dump(), token=secret
    )


@router.get("")
async def list_tokens(user: OfficeUser, session: SessionDep) -> TokensPublic:
    """Every token with its expiry and last use (to the minute); never the token itself."""
    rows = list(await session.scalars(select(ApiToken).order_by(ApiToken.id)))
    return TokensPublic(
        data=[TokenPublic.model_validate(t, from_attributes=True) for t in rows], count=len(rows)
    )


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: int, user: OfficeUser, session: SessionDep) -> None:
    """Revoke a token: it is refused from the next request on."""
    token = await session.get(ApiToken, token_id)
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        session.add(audit_entry(_actor(user), "token.revoked", f"token:{token_id}"))
        await session.commit()
