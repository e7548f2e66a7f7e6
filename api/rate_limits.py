"""Request rate limits on the endpoints worth flooding: token creation and acknowledgements
(per principal) and the one-click acknowledgement link (per client address, as it carries no
token). Past the allowance within the window the answer is 429 with Retry-After.

The same sliding window as the receipt-code limiter, in each API process's memory: with N API
processes a client gets N times the allowance, which still bounds a flood; exact numbers across
processes would need a shared store."""

from __future__ import annotations

from fastapi import Request

from api.deps import CurrentUser
from api.lookup_limits import FailureLimiter, client_of
from config import Settings


def _limiter(request: Request, name: str, allowance: int, message: str) -> FailureLimiter:
    limiters: dict[str, FailureLimiter] | None = getattr(request.app.state, "rate_limiters", None)
    if limiters is None:
        limiters = request.app.state.rate_limiters = {}
    found = limiters.get(name)
    if found is None:
        settings: Settings = request.app.state.settings
        found = FailureLimiter(allowance, settings.rate_window_seconds, message)
        limiters[name] = found
    return found


def limit_token_creation(request: Request, user: CurrentUser) -> None:
    settings: Settings = request.app.state.settings
    _limiter(
        request, "tokens", settings.token_rate_limit, "too many tokens created; try again later"
    ).take(f"token:{user.token_id}")


def limit_acknowledgements(request: Request, user: CurrentUser) -> None:
    settings: Settings = request.app.state.settings
    _limiter(
        request, "acks", settings.ack_rate_limit, "too many acknowledgements; try again later"
    ).take(f"token:{user.token_id}")


def limit_link_posts(request: Request) -> None:
    settings: Settings = request.app.state.settings
    _limiter(
        request,
        "links",
        settings.link_rate_limit,
        "too many acknowledgement links from this address; try again later",
    ).take(client_of(request))
