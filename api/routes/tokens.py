"""API tokens: the steering office creates one per person or system, with a role and, for a
commune leader, the commune it is scoped to; for an official in charge, the roster person whose
communes it sees. A token may expire; its last use is kept to the minute. The use cases are
`services.tokens`; their refusals answer through `api/errors.py`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from api.deps import OfficeUser
from api.rate_limits import limit_token_creation
from services import tokens
from services.schemas import TokenCreate, TokenCreated, TokenPublic, TokensPublic
from serving.deps import SessionDep

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Depends(limit_token_creation)])
async def create_token(payload: TokenCreate, user: OfficeUser, session: SessionDep) -> TokenCreated:
    """A new token, shown once. `commune_leader` needs `commune_code`; `official_in_charge`
    needs `email` (a roster official's); the other roles are province-wide and take neither."""
    token, secret = await tokens.open_token(session, payload, user)
    return TokenCreated(
        **TokenPublic.model_validate(token, from_attributes=True).model_dump(), token=secret
    )


@router.get("")
async def list_tokens(user: OfficeUser, session: SessionDep) -> TokensPublic:
    """Every token with its expiry and last use (to the minute); never the token itself."""
    rows = await tokens.list_tokens(session)
    return TokensPublic(
        data=[TokenPublic.model_validate(t, from_attributes=True) for t in rows], count=len(rows)
    )


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: int, user: OfficeUser, session: SessionDep) -> None:
    """Revoke a token: it is refused from the next request on."""
    await tokens.revoke_token(session, token_id, user)
