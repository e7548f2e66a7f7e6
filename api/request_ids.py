"""Every request gets an id: the caller's `X-Request-ID` when it is a short token of safe
characters (a proxy in front may have made it already), or a new one. The answer carries it in
the same header, and every log line written while the request is handled carries it too (see
logs.py), with the route's `directive_id` and `commune_code`."""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import logs

HEADER = "X-Request-ID"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = logs.safe_token(Headers(scope=scope).get(HEADER)) or uuid.uuid4().hex
        id_token = logs.request_id.set(request_id)
        scope_token = logs.request_scope.set(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
        # Only on a normal return: after an exception the server logs "Exception in ASGI
        # application" in this same request's task, and that line should carry the id too.
        logs.request_scope.reset(scope_token)
        logs.request_id.reset(id_token)


async def server_error(request: Request, exc: Exception) -> PlainTextResponse:
    """Starlette's own 500 answer, with the request's id: the 500 is sent by the outermost
    middleware, outside this one, so only here can the id reach the caller who reports it."""
    request_id = logs.request_id.get()
    headers = {HEADER: request_id} if request_id else None
    return PlainTextResponse("Internal Server Error", status_code=500, headers=headers)


def install(app: FastAPI) -> None:
    """Add after the middleware that answer on their own (the body limit's 413, the rate
    limits' 429), so it wraps them and their answers carry the id too."""
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(Exception, server_error)
