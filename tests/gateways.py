"""Real servers on loopback that the channel adapters talk to: an SMTP server (aiosmtpd) and
HTTP servers answering as ZNS and eSMS do (HTTP 200 with an error code in the body, a
single-use refresh token, eSMS's duplicate answer 124). Each binds port 0.

The stand-ins refuse what the real services refuse, with the codes of their documentation:
- ZNS (https://zalo.cloud/zns/guidelines/handle-error-code, ../shared/CHANNELS.md): an access
  token that is not the current one -124; a phone not in the 84… form -108; a template id not
  registered -109; no template data -111; a parameter the template does not declare -112; one
  longer than declared -1121; one missing or empty -1122; a number or date parameter in
  another form -1124.
- Zalo OAuth v4 (CHANNELS.md): the form's `app_id`, `grant_type=refresh_token`, the
  `secret_key` header and the one refresh token that works, once; a refusal is JSON without
  an access token, as Zalo's are (the adapter reads no more of it).
- eSMS (https://developers.esms.vn/en/esms-api/table-of-error-codes): ApiKey and SecretKey
  101; a brandname not registered 104; an SmsType other than customer care (2) 118; a phone
  not in the 0… form 108; a text matching no registered customer-care template 146 (the
  templates registered are the shapes of templates/notifications/*/*.sms.j2, variable parts
  free and possibly empty, as an office registers them with eSMS)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
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


SMS_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "notifications"
JINJA_PART = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})")
DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")


@dataclass(frozen=True)
class ZnsParam:
    """One parameter of a registered ZNS template: its type (string, number, date) and its
    longest value."""

    kind: str
    max_length: int


# What the product's directive messages fill in (activities/delivery/messages.py).
DIRECTIVE_TEMPLATE = {
    "ten_can_bo": ZnsParam("string", 100),
    "don_vi": ZnsParam("string", 100),
    "tieu_de": ZnsParam("string", 100),
    "han_xu_ly": ZnsParam("date", 10),
    "lien_ket": ZnsParam("string", 500),
}
BRANDNAME = "BCD-DAKLAK"


def registered_sms_patterns() -> list[re.Pattern[str]]:
    """Each SMS template's shape, its variable parts free: what eSMS holds for a brandname."""
    patterns = []
    for path in sorted(SMS_TEMPLATES.glob("*/*.sms.j2")):
        body = path.read_text().partition("\n")[2].strip()
        shape = "".join(_shape(part) for part in JINJA_PART.split(body))
        patterns.append(re.compile(shape, re.S))
    return patterns


def _shape(part: str) -> str:
    """A template's piece as a pattern: a value is free, a conditional or repeated block may
    be absent or repeated, the rest is as written."""
    if not JINJA_PART.fullmatch(part):
        # Spacing is free: a message is sent stripped, so a text ending in an empty value
        # ("Chi tiet: " and no link) ends without its space.
        return r"\s*".join(re.escape(word) for word in part.split(" "))
    tag = part.strip("{}% ").split(" ")[0]
    return {"if": "(?:", "for": "(?:", "endif": ")?", "endfor": ")*"}.get(tag, ".*?")


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
    app_id: str = "app"
    app_secret: str = "zns-secret"
    # template id -> its parameters
    zns_templates: dict[str, dict[str, ZnsParam]] = field(
        default_factory=lambda: {"1001": DIRECTIVE_TEMPLATE, "1002": DIRECTIVE_TEMPLATE}
    )
    # OAuth only: (status, body) given before the normal answer, a str body sent as it is;
    # and seconds each refresh waits before answering.
    oauth_scripted: deque[tuple[int, Any]] = field(default_factory=deque)
    oauth_delay: float = 0.0
    # ZNS: seconds each send waits before answering (it has been received meanwhile)
    send_delay: float = 0.0
    # eSMS: RequestIds already accepted, and the SMS each produced
    seen_request_ids: dict[str, str] = field(default_factory=dict)
    esms_secret: str = "s"
    brandnames: set[str] = field(default_factory=lambda: {BRANDNAME})
    sms_patterns: list[re.Pattern[str]] = field(default_factory=registered_sms_patterns)

    def sent(self, path_end: str) -> list[tuple[dict[str, str], Any]]:
        return [(h, b) for p, h, b in self.requests if p.endswith(path_end)]

    def reauthorise(self) -> str:
        """The office authorises the app again: a new refresh token, the old chain dead."""
        self.refresh_token = f"reauthorised-{self.refreshes + 1}"
        self.access_token = "not-issued-yet"
        return self.refresh_token


def _zns_refusal(gateway: Gateway, body: dict[str, Any]) -> tuple[int, str] | None:
    """The documented code the real ZNS would answer this request with, if any."""
    if not re.fullmatch(r"84\d{9}", str(body.get("phone", ""))):
        return -108, "Phone number is invalid"
    template = gateway.zns_templates.get(str(body.get("template_id", "")))
    if template is None:
        return -109, "Template ID is invalid"
    data = body.get("template_data")
    if not isinstance(data, dict) or not data:
        return -111, "Template data is empty"
    if set(data) - set(template):
        return -112, f"Template data is invalid: {sorted(set(data) - set(template))}"
    for name, param in template.items():
        value = str(data.get(name, ""))
        if not value.strip():
            return -1122, f"Template data missing params: {name}"
        if len(value) > param.max_length:
            return -1121, f"Template data param exceeds max length: {name}"
        if (param.kind == "number" and not value.isdigit()) or (
            param.kind == "date" and not DATE.match(value)
        ):
            return -1124, f"Template data param invalid format: {name}"
    return None


async def _esms(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    body = await request.json()
    gateway.requests.append((request.url.path, dict(request.headers), body))
    if gateway.scripted:
        status, headers, answer = gateway.scripted.popleft()
        return JSONResponse(answer, status_code=status, headers=headers)
    if body.get("ApiKey") != "esms-key" or body.get("SecretKey") != gateway.esms_secret:
        return JSONResponse({"CodeResult": "101", "ErrorMessage": "bad key"})
    if body.get("Brandname") not in gateway.brandnames:
        return JSONResponse({"CodeResult": "104", "ErrorMessage": "Brandname not exist"})
    if body.get("SmsType") != "2":
        return JSONResponse({"CodeResult": "118", "ErrorMessage": "SmsType unsupported"})
    if not re.fullmatch(r"0\d{9}", str(body.get("Phone", ""))):
        return JSONResponse({"CodeResult": "108", "ErrorMessage": "Phone invalid"})
    content = str(body.get("Content", ""))
    if not any(p.fullmatch(content) for p in gateway.sms_patterns):
        return JSONResponse({"CodeResult": "146", "ErrorMessage": "Wrong template"})
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
    if gateway.send_delay:
        await asyncio.sleep(gateway.send_delay)
    if gateway.scripted:
        status, headers, answer = gateway.scripted.popleft()
        return JSONResponse(answer, status_code=status, headers=headers)
    if request.headers.get("access_token") != gateway.access_token:
        return JSONResponse({"error": -124, "message": "Access token is invalid"})
    refusal = _zns_refusal(gateway, body)
    if refusal is not None:
        code, text = refusal
        return JSONResponse({"error": code, "message": text})
    count = len(gateway.sent("/message/template"))
    return JSONResponse(
        {"error": 0, "message": "Success", "data": {"msg_id": f"zns-{count}", "quota": {}}}
    )


async def _zns_token(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    gateway.requests.append((request.url.path, dict(request.headers), form))
    if gateway.oauth_delay:
        await asyncio.sleep(gateway.oauth_delay)
    if gateway.oauth_scripted:
        status, answer = gateway.oauth_scripted.popleft()
        gateway.refused_refreshes += 1
        if isinstance(answer, str):
            return Response(answer, status_code=status, media_type="text/html")
        return JSONResponse(answer, status_code=status)
    refusal = (
        (form.get("app_id") != gateway.app_id, -14002, "Invalid app_id"),
        (form.get("grant_type") != "refresh_token", -14001, "Invalid grant_type"),
        (request.headers.get("secret_key") != gateway.app_secret, -14004, "Invalid secret_key"),
        (form.get("refresh_token") != gateway.refresh_token, -14014, "Invalid refresh token"),
    )
    for refused, code, text in refusal:
        if refused:
            gateway.refused_refreshes += 1
            return JSONResponse({"error": code, "message": text})
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
