"""Real servers on loopback that the channel adapters talk to: an SMTP server (aiosmtpd) and
HTTP servers answering as ZNS and eSMS do (HTTP 200 with an error code in the body, a
single-use refresh token, eSMS's duplicate answer 124). Each binds port 0."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class SmtpSink:
    """What an SMTP server received, and the answers it gives first: `fail_first[rcpt]` is a
    queue of SMTP replies given to that recipient before it is accepted."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Message] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    fail_first: dict[str, deque[str]] = field(default_factory=dict)
    # Seconds each DATA takes: a wave of sends is then in flight long enough to stop a worker.
    data_delay: float = 0.0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.attempts[address] += 1
        queued = self.fail_first.get(address)
        if queued:
            return queued.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@asynccontextmanager
async def smtp_server() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="axis.test"), host="127.0.0.1", port=0
    )
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class Gateway:
    """The requests an HTTP gateway received and the answers it is told to give first."""

    base_url: str = ""
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    # (status, headers, body) given before the normal answer, one per request
    scripted: deque[tuple[int, dict[str, str], Any]] = field(default_factory=deque)
    # ZNS: the valid access token and the one refresh token that works (once)
    access_token: str = "access-1"
    refresh_token: str = "refresh-1"
    refreshes: int = 0
    refused_refreshes: int = 0
    # eSMS: RequestIds already accepted, and the SMS each produced
    seen_request_ids: dict[str, str] = field(default_factory=dict)

    def sent(self, path_end: str) -> list[tuple[dict[str, str], Any]]:
        return [(h, b) for p, h, b in self.requests if p.endswith(path_end)]


async def _esms(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    body = await request.json()
    gateway.requests.append((request.url.path, dict(request.headers), body))
    if gateway.scripted:
        status, headers, answer = gateway.scripted.popleft()
        return JSONResponse(answer, status_code=status, headers=headers)
    if body.get("ApiKey") != "esms-key":
        return JSONResponse({"CodeResult": "101", "ErrorMessage": "bad key"})
    request_id = body.get("RequestId", "")
    if request_id in gateway.seen_request_ids:
        return JSONResponse({"CodeResult": "124", "ErrorMessage": "duplicate RequestId"})
    sms_id = f"sms-{len(gateway.seen_request_ids) + 1}"
    gateway.seen_request_ids[request_id] = sms_id
    return JSONResponse({"CodeResult": "100", "SMSID": sms_id})


async def _zns_send(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    body = await request.json()
    gateway.requests.append((request.url.path, dict(request.headers), body))
    if gateway.scripted:
        status, headers, answer = gateway.scripted.popleft()
        return JSONResponse(answer, status_code=status, headers=headers)
    if request.headers.get("access_token") != gateway.access_token:
        return JSONResponse({"error": -124, "message": "Access token is invalid"})
    if not str(body.get("phone", "")).startswith("84"):
        return JSONResponse({"error": -108, "message": "Phone number is invalid"})
    count = len(gateway.sent("/message/template"))
    return JSONResponse(
        {"error": 0, "message": "Success", "data": {"msg_id": f"zns-{count}", "quota": {}}}
    )


async def _zns_token(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    gateway.requests.append((request.url.path, dict(request.headers), form))
    if form.get("refresh_token") != gateway.refresh_token or (
        request.headers.get("secret_key") != "zns-secret"
    ):
        gateway.refused_refreshes += 1
        return JSONResponse({"error": -14014, "message": "Invalid refresh token"})
    gateway.refreshes += 1
    gateway.access_token = f"access-{gateway.refreshes + 1}"
    gateway.refresh_token = f"refresh-{gateway.refreshes + 1}"
    return JSONResponse(
        {
            "access_token": gateway.access_token,
            "refresh_token": gateway.refresh_token,
            "expires_in": "90000",
        }
    )


async def _hook(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    gateway.requests.append((request.url.path, dict(request.headers), await request.body()))
    if gateway.scripted:
        status, headers, answer = gateway.scripted.popleft()
        return JSONResponse(answer, status_code=status, headers=headers)
    return JSONResponse({"ok": True})


@asynccontextmanager
async def http_gateway() -> AsyncIterator[Gateway]:
    """One server answering as both ZNS (send and OAuth) and eSMS."""
    app = Starlette(
        routes=[
            Route(
                "/MainService.svc/json/SendMultipleMessage_V4_post_json/", _esms, methods=["POST"]
            ),
            Route("/message/template", _zns_send, methods=["POST"]),
            Route("/v4/oa/access_token", _zns_token, methods=["POST"]),
            Route("/hook", _hook, methods=["POST"]),
        ]
    )
    gateway = Gateway()
    app.state.gateway = gateway
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    gateway.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    # Listening already: a request made before uvicorn accepts waits in the backlog.
    sock.listen(128)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield gateway
    finally:
        server.should_exit = True
        await task
        sock.close()
