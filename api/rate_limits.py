"""Request rate limits on the endpoints worth flooding: token creation and acknowledgements
(per principal), the one-click acknowledgement link (per client address, as it carries no
token), and the anonymous POSTs that start a workflow and email a leader (Open311
`requests.json` and the `/gop-y` form: per client address and over all addresses). Past the
allowance within the window the answer is 429 with Retry-After.

Counted in the database (serving/shared_counts.py): every API process shares one count, so the
compose file's two replicas give a client one allowance, not two."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import CurrentUser
from config import Settings
from serving.lookup_limits import RateLimited, RateLimiter, client_of, counts_of, trusted_networks

ANONYMOUS_MESSAGE = "too many requests filed from this address; try again later"
ANONYMOUS_TOTAL_MESSAGE = "too many requests filed at once; try again later"


class Open311RateLimited(RateLimited):
    """Answered in the Open311 error shape, as that endpoint's other errors are."""


class FormRateLimited(RateLimited):
    """Answered as a small page: the citizen filled in a form in a browser."""


def _limiter(request: Request, scope: str, allowance: int, message: str) -> RateLimiter:
    settings: Settings = request.app.state.settings
    return RateLimiter(counts_of(request), scope, allowance, settings.rate_window_seconds, message)


async def limit_token_creation(request: Request, user: CurrentUser) -> None:
    settings: Settings = request.app.state.settings
    await _limiter(
        request, "tokens", settings.token_rate_limit, "too many tokens created; try again later"
    ).take(f"token:{user.token_id}")


async def limit_acknowledgements(request: Request, user: CurrentUser) -> None:
    settings: Settings = request.app.state.settings
    await _limiter(
        request, "acks", settings.ack_rate_limit, "too many acknowledgements; try again later"
    ).take(f"token:{user.token_id}")


async def limit_link_posts(request: Request) -> None:
    settings: Settings = request.app.state.settings
    await _limiter(
        request,
        "links",
        settings.link_rate_limit,
        "too many acknowledgement links from this address; try again later",
    ).take(client_of(request))


async def _take_anonymous_post(request: Request) -> None:
    """The address's allowance first, then the overall one: a single flooder is refused
    without using up everyone's."""
    settings: Settings = request.app.state.settings
    counts, window = counts_of(request), settings.anonymous_post_window_seconds
    per_address = RateLimiter(
        counts, "anonymous-post", settings.anonymous_post_limit, window, ANONYMOUS_MESSAGE
    )
    overall = RateLimiter(
        counts,
        "anonymous-post-total",
        settings.anonymous_post_total_limit,
        window,
        ANONYMOUS_TOTAL_MESSAGE,
    )
    client = client_of(request)
    await per_address.take(client)
    try:
        await overall.take("all")
    except RateLimited:
        # Refused overall: the address keeps its place for when the flood has passed.
        await counts.give_back(per_address.scope, client, window)
        raise


async def limit_open311_posts(request: Request) -> None:
    try:
        await _take_anonymous_post(request)
    except RateLimited as e:
        raise Open311RateLimited(e.message, e.retry_after_seconds) from e


async def limit_form_posts(request: Request) -> None:
    try:
        await _take_anonymous_post(request)
    except RateLimited as e:
        raise FormRateLimited(e.message, e.retry_after_seconds) from e


def install(app: FastAPI, settings: Settings) -> None:
    """The answers of the two anonymous POSTs when refused; every other limit answers 429 as
    any HTTP error of the API does ({"detail": …}). A wrong AXIS_TRUSTED_PROXIES stops the
    process here, at its start, rather than at its first request."""
    try:
        trusted_networks(settings.trusted_proxies)
    except ValueError as e:
        raise ValueError(
            f"AXIS_TRUSTED_PROXIES must list addresses or networks, comma-separated: {e}"
        ) from e

    @app.exception_handler(Open311RateLimited)
    async def open311_refused(request: Request, exc: Open311RateLimited) -> JSONResponse:
        return JSONResponse(
            [{"code": 429, "description": exc.message}],
            status_code=429,
            headers=exc.headers,
        )

    @app.exception_handler(FormRateLimited)
    async def form_refused(request: Request, exc: FormRateLimited) -> HTMLResponse:
        # Imported here: the public routes import this module for their limits.
        from api.routes.public import page

        answer = page("feedback_too_many.html", 429, minutes=-(-exc.retry_after_seconds // 60))
        answer.headers.update(exc.headers or {})
        return answer
