"""API tokens: the steering office creates one per person or system, with a role and, for a
commune leader, the commune it is scoped to."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from api.deps import OfficeUser, SessionDep, hash_token
from api.rate_limits import limit_token_creation
from api.schemas import TokenCreate, TokenCreated, TokenPublic, TokensPublic
from db.models import ApiToken, Commune

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Depends(limit_token_creation)])
async def create_token(payload: TokenCreate, user: OfficeUser, session: SessionDep) -> TokenCreated:
    if payload.role == "commune_leader":
        if not payload.commune_code:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "a commune_leader token needs commune_code"
            )
        if await session.get(Commune, payload.commune_code) is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown commune {payload.commune_code}"
            )
    elif payload.commune_code:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"a {payload.role} token is province-wide: leave commune_code out",
        )
    secret = f"axis_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        name=payload.name,
        role=payload.role,
        commune_code=payload.commune_code,
        token_hash=hash_token(secret),
        created_at=datetime.now(UTC),
    )
    session.add(token)
    await session.commit()
    return TokenCreated(
        **TokenPublic.model_validate(token, from_attributes=True).model_dump(), token=secret
    )


@router.get("")
async def list_tokens(user: OfficeUser, session: SessionDep) -> TokensPublic:
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
        await session.commit()
