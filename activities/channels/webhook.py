"""Signed webhooks, in the Standard Webhooks style: `webhook-id`, `webhook-timestamp` and
`webhook-signature` (`v1,` + base64 HMAC-SHA256 over `id.timestamp.body`).

A URL must reach a globally routable address (`ipaddress`'s `is_global`): loopback, private,
shared (100.64.0.0/10), link-local (cloud metadata), multicast, reserved and documentation
addresses are refused when it is registered and again when it is sent to. At send the name is
resolved once and the connection goes to the address that was checked, with the name in the
Host header and in TLS's SNI: a DNS answer that changes between the check and the connection
cannot move the request inside the network. Redirects are never followed. Hosts and networks
the installation lists in `AXIS_WEBHOOK_ALLOW_HOSTS` (a receiver on the same machine, a
platform inside the province's network) are allowed despite the guard, and only they may be
reached over plain http."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from activities.channels.base import Outcome, OutgoingMessage, SendResult, retry_after

TIMEOUT_SECONDS = 15.0
# Standard Webhooks secrets are "whsec_" + base64 of the key.
SECRET_PREFIX = "whsec_"
DEFAULT_PORTS = {"https": 443, "http": 80}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# A name and port to the addresses it resolves to, as text.
Resolve = Callable[[str, int], Awaitable[list[str]]]
# IPv6 prefixes that carry an IPv4 address inside: NAT64 (RFC 6052) reaches the IPv4 address,
# and Python 3.11 calls 64:ff9b::7f00:1 (loopback behind NAT64) global.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """A webhook URL that could reach inside the network, or is not http(s)."""


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class AllowedHosts:
    """What `AXIS_WEBHOOK_ALLOW_HOSTS` lets through despite the guard: host names (whatever
    they resolve to) and networks (an address alone is a network of one)."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def allows(self, host: str, addresses: list[str]) -> bool:
        """Whether the host is listed by name, or every address it resolves to lies in a
        listed network."""
        if host.lower().rstrip(".") in self.names:
            return True
        return bool(addresses) and all(
            any(_address(a) in network for network in self.networks) for a in addresses
        )


def parse_allowed_hosts(value: str) -> AllowedHosts:
    """'localhost, 127.0.0.1, 10.20.0.0/16' → the names and networks; a malformed entry is
    refused, so a typo cannot quietly leave a receiver out (or let a wider range in)."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
            continue
        except ValueError:
            pass
        if "/" in entry or ":" in entry or " " in entry:
            raise ValueError(
                f"AXIS_WEBHOOK_ALLOW_HOSTS: {entry!r} is neither a host name nor a network "
                "such as 10.20.0.0/16 (host bits must be zero)"
            )
        names.add(entry.lower().rstrip("."))
    return AllowedHosts(frozenset(names), tuple(networks))


def _address(address: str) -> IPAddress:
    """The address, with an IPv4 address carried inside IPv6 (mapped, 6to4, NAT64) taken out:
    that is where a connection to it ends up."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public(address: str) -> bool:
    """Globally routable and one host: Python 3.11 calls multicast global."""
    ip = _address(address)
    return ip.is_global and not ip.is_multicast


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def resolve_host(host: str, port: int) -> list[str]:
    """The system resolver's addresses for the name, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed the guard, and the address the connection must go to."""

    url: str
    host: str
    port: int
    address: str

    @property
    def target(self) -> str:
        """The URL with the checked address in place of the name: nothing resolves it again."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        return urlunsplit(parts._replace(netloc=f"{literal}:{self.port}"))

    @property
    def host_header(self) -> str:
        return urlsplit(self.url).netloc


async def check_url(
    url: str, allowed: AllowedHosts = AllowedHosts(), resolve: Resolve = resolve_host
) -> CheckedUrl:
    """Refuse a URL that is not https (or http to an allowed host), carries credentials, or
    whose host is, or resolves to, an address that is not public, unless allowed. The name is
    resolved once; the answer names the address checked."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UnsafeUrl("webhook URLs must be https (or http to an allowed host) with a host")
    if parts.username or parts.password:
        raise UnsafeUrl("webhook URLs may not carry credentials")
    host = parts.hostname
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as e:
        raise UnsafeUrl(f"the port of {url} is not a number") from e
    try:
        addresses = [host] if _is_ip(host) else await resolve(host, port)
    except OSError as e:
        raise UnsafeUrl(f"the host {host} does not resolve") from e
    if not addresses:
        raise UnsafeUrl(f"the host {host} does not resolve")
    if not allowed.allows(host, addresses):
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise UnsafeUrl(f"the host {host} is not a public address ({', '.join(refused)})")
        if parts.scheme != "https":
            raise UnsafeUrl(f"webhooks to {host} must use https")
    return CheckedUrl(url=url, host=host, port=port, address=addresses[0])


@dataclass(frozen=True)
class WebhookDelivery:
    url: str
    secret: str
    # The same on every attempt: the receiver deduplicates on it.
    webhook_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class WebhookAnswer:
    """What one POST came to, and the receiver's HTTP status when it answered (None: it did
    not, or the URL was refused before any connection)."""

    result: SendResult
    status_code: int | None = None
    # The URL may no longer be reached: its host resolves inside the network now.
    refused_url: bool = False


async def send_webhook(
    delivery: WebhookDelivery,
    http: httpx.AsyncClient | None = None,
    now: float | None = None,
    allowed: AllowedHosts = AllowedHosts(),
    resolve: Resolve = resolve_host,
) -> SendResult:
    """POST one signed event to the address its URL is checked to, once more, right now."""
    answer = await post_webhook(delivery, http, now, allowed, resolve)
    return answer.result


async def post_webhook(
    delivery: WebhookDelivery,
    http: httpx.AsyncClient | None = None,
    now: float | None = None,
    allowed: AllowedHosts = AllowedHosts(),
    resolve: Resolve = resolve_host,
) -> WebhookAnswer:
    """`send_webhook`, with the receiver's status code beside the outcome."""
    try:
        checked = await check_url(delivery.url, allowed, resolve)
    except UnsafeUrl as e:
        return WebhookAnswer(SendResult(Outcome.PERMANENT, detail=str(e)), refused_url=True)
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(now if now is not None else time.time())
    headers = {
        "host": checked.host_header,
        "content-type": "application/json",
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(delivery.secret, delivery.webhook_id, timestamp, body),
        "idempotency-key": delivery.webhook_id,
    }
    # No proxy from the environment: a proxy would resolve the name again itself.
    client = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS, trust_env=False)
    request = client.build_request(
        "POST",
        checked.target,
        content=body,
        headers=headers,
        # The certificate is checked against the name, as if the name had been connected to.
        extensions={"sni_hostname": checked.host},
    )
    try:
        answer = await client.send(request, follow_redirects=False)
    except httpx.ConnectError as e:
        return WebhookAnswer(SendResult(Outcome.RETRY, detail=f"connection: {e}"))
    except httpx.TimeoutException:
        # The receiver deduplicates on webhook-id: sending again is safe.
        return WebhookAnswer(SendResult(Outcome.RETRY, detail="timeout"))
    finally:
        if http is None:
            await client.aclose()
    code = answer.status_code
    if 200 <= code < 300:
        return WebhookAnswer(
            SendResult(Outcome.ACCEPTED, provider_message_id=delivery.webhook_id), code
        )
    if code == 429 or code >= 500:
        wait = retry_after(answer.headers.get("retry-after"))
        return WebhookAnswer(
            SendResult(Outcome.RETRY, detail=f"HTTP {code}", retry_after_seconds=wait), code
        )
    # 3xx included: a redirect is never followed, it could point inside the network.
    return WebhookAnswer(SendResult(Outcome.PERMANENT, detail=f"HTTP {code}"), code)


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where one person's messages are posted, and the secret they are signed with."""

    url: str
    secret: str


class WebhookChannel:
    """The roster's `webhook` channel: a person's messages posted, signed, to their endpoint.
    Nothing needs setting up to send webhooks, so the channel is always configured; a person
    without an endpoint is a permanent failure on it (the next of their channels is tried, and
    the reason is kept), never a message dropped without a word."""

    name = "webhook"

    def __init__(
        self,
        endpoints: Mapping[str, WebhookEndpoint],
        allowed: AllowedHosts = AllowedHosts(),
        resolve: Resolve = resolve_host,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`endpoints` by the person's email, the roster's key for a person."""
        self._endpoints = endpoints
        self._allowed = allowed
        self._resolve = resolve
        self._clock = clock

    @property
    def configured(self) -> bool:
        return True

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Post one message; the receiver deduplicates on webhook-id, the message's key, which
        is the same on every attempt."""
        endpoint = self._endpoints.get(message.email)
        if endpoint is None:
            return SendResult(Outcome.PERMANENT, detail=f"no webhook endpoint for {message.email}")
        now = self._clock()
        payload = {
            "type": f"notification.{message.kind}",
            "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
            "data": {
                "id": message.idempotency_key,
                "kind": message.kind,
                "subject": message.subject,
                "body": message.body,
                "recipient": message.email,
            },
        }
        delivery = WebhookDelivery(endpoint.url, endpoint.secret, message.idempotency_key, payload)
        return await send_webhook(delivery, now=now, allowed=self._allowed, resolve=self._resolve)
