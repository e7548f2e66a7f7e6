"""Signed webhooks for subscribing systems, in the Standard Webhooks style: `webhook-id`,
`webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 over
`id.timestamp.body`). A URL must be public: loopback, private, link-local (cloud metadata),
multicast and reserved addresses are refused when it is registered and again when it is sent
to (DNS can change in between), and redirects are never followed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from activities.channels.base import Outcome, SendResult, retry_after

TIMEOUT_SECONDS = 15.0
# Standard Webhooks secrets are "whsec_" + base64 of the key.
SECRET_PREFIX = "whsec_"


class UnsafeUrl(ValueError):
    """A webhook URL that could reach inside the network, or is not http(s)."""


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check_url(
    url: str, allow_http: bool = False, trusted_hosts: frozenset[str] = frozenset()
) -> None:
    """Refuse a URL whose host is, or resolves to, a non-public address, unless the
    installation trusts that host by name (a platform inside the province's own network)."""
    parts = urlsplit(url)
    schemes = {"https", "http"} if allow_http else {"https"}
    if parts.scheme not in schemes or not parts.hostname:
        raise UnsafeUrl(f"webhook URLs must be {' or '.join(sorted(schemes))} with a host")
    if parts.username or parts.password:
        raise UnsafeUrl("webhook URLs may not carry credentials")
    host = parts.hostname
    if host in trusted_hosts:
        return
    try:
        addresses = {host} if _is_ip(host) else await _resolve(host, parts.port)
    except OSError as e:
        raise UnsafeUrl(f"the host {host} does not resolve") from e
    refused = sorted(a for a in addresses if not _public(a))
    if refused or not addresses:
        raise UnsafeUrl(f"the host {host} is not a public address ({', '.join(refused)})")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int | None) -> set[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    return {str(info[4][0]) for info in infos}


@dataclass(frozen=True)
class WebhookDelivery:
    url: str
    secret: str
    # The same on every attempt: the receiver deduplicates on it.
    webhook_id: str
    payload: dict[str, Any]


async def send_webhook(
    delivery: WebhookDelivery,
    http: httpx.AsyncClient | None = None,
    allow_http: bool = False,
    now: float | None = None,
    trusted_hosts: frozenset[str] = frozenset(),
) -> SendResult:
    """POST one signed event; the URL is checked again first."""
    try:
        await check_url(delivery.url, allow_http=allow_http, trusted_hosts=trusted_hosts)
    except UnsafeUrl as e:
        return SendResult(Outcome.PERMANENT, detail=str(e))
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(now if now is not None else time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(delivery.secret, delivery.webhook_id, timestamp, body),
        "idempotency-key": delivery.webhook_id,
    }
    client = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    try:
        answer = await client.post(delivery.url, content=body, headers=headers)
    except httpx.ConnectError as e:
        return SendResult(Outcome.RETRY, detail=f"connection: {e}")
    except httpx.TimeoutException:
        # The receiver deduplicates on webhook-id: sending again is safe.
        return SendResult(Outcome.RETRY, detail="timeout")
    finally:
        if http is None:
            await client.aclose()
    if 200 <= answer.status_code < 300:
        return SendResult(Outcome.ACCEPTED, provider_message_id=delivery.webhook_id)
    if answer.status_code == 429 or answer.status_code >= 500:
        return SendResult(
            Outcome.RETRY,
            detail=f"HTTP {answer.status_code}",
            retry_after_seconds=retry_after(answer.headers.get("retry-after")),
        )
    # 3xx included: a redirect is never followed, it could point inside the network.
    return SendResult(Outcome.PERMANENT, detail=f"HTTP {answer.status_code}")
