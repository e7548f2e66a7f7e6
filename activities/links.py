"""Signed one-click acknowledgement links.

A link names one assignment (directive, commune) and the content revision of the directive it
was sent for, carries a random-looking link id (derived from the message's key, so a retried
activity writes the same link) and an expiry, and nothing about the person. It is signed with
HMAC-SHA256 under a purpose-specific salt by the newest key of a rotating list; any key of the
list verifies, so old links keep working while a rotation rolls out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from secret_files import read_or_create

# A key signs one purpose only: a link made for acknowledgement is no token for anything else.
SALT = b"axis.acknowledge.v1"
LINK_PATH = "/a/"
LINK_ID_CHARS = 20
MAC_BYTES = 16
MAX_TOKEN_CHARS = 200


class LinkError(Exception):
    """Why a link is refused; `reason` is one of: tampered, expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AckLink:
    link_id: str
    directive_id: int
    commune_code: str
    content_revision: int
    expires_at: datetime


def link_id_for(notification_key: str) -> str:
    return hashlib.sha256(f"link:{notification_key}".encode()).hexdigest()[:LINK_ID_CHARS]


def _mac(key: str, payload: str) -> str:
    digest = hmac.new(key.encode(), SALT + b"." + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).rstrip(b"=").decode()


def sign_link(keys: list[str], link: AckLink) -> str:
    # Short enough that an SMS with its link fits one message: fields in a fixed order, the
    # expiry in base 36, a 128-bit MAC.
    payload = ".".join(
        (
            link.link_id,
            str(link.directive_id),
            link.commune_code,
            str(link.content_revision),
            _base36(int(link.expires_at.timestamp())),
        )
    )
    return f"{payload}.{_mac(keys[0], payload)}"


def verify_link(keys: list[str], token: str, now: datetime) -> AckLink:
    """The link's content when one of the keys signed it and it has not expired."""
    payload, _, signature = token.rpartition(".")
    if not payload or not signature or len(token) > MAX_TOKEN_CHARS:
        raise LinkError("tampered")
    if not any(hmac.compare_digest(_mac(key, payload), signature) for key in keys):
        raise LinkError("tampered")
    try:
        link_id, directive_id, commune_code, revision, expires = payload.split(".")
        link = AckLink(
            link_id=link_id,
            directive_id=int(directive_id),
            commune_code=commune_code,
            content_revision=int(revision),
            expires_at=datetime.fromtimestamp(int(expires, 36), UTC),
        )
    except ValueError as e:
        raise LinkError("tampered") from e
    if now >= link.expires_at:
        raise LinkError("expired")
    return link


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if value == 0:
            return out


def link_url(public_url: str, keys: list[str], link: AckLink) -> str:
    return f"{public_url.rstrip('/')}{LINK_PATH}{sign_link(keys, link)}"


def parse_keys(value: str | None) -> list[str]:
    return [k.strip() for k in (value or "").split(",") if k.strip()]


def resolve_link_keys(configured: str | None, data_dir: Path) -> list[str]:
    """AXIS_LINK_KEYS, or one key made once and kept under the data directory (the worker and
    the API of one machine read the same file)."""
    keys = parse_keys(configured)
    if keys:
        return keys
    # Made whole before it is named: a process reading it meanwhile never caches no keys.
    text = read_or_create(data_dir / "link-keys", lambda: secrets.token_urlsafe(32) + "\n")
    return parse_keys(text.replace("\n", ","))
