"""Zalo Notification Service: a pre-approved template message to a phone number.

ZNS answers HTTP 200 even on failure, with the error in the body. The access token lasts about
25 hours and its refresh token is single use, so every refresh goes through one `ZnsTokens`
under a lock, and the new refresh token is kept at once."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.channels.base import (
    Outcome,
    OutgoingMessage,
    SendResult,
    international_phone,
    retry_after,
)
from db.models import ProviderToken
from db.upsert import insert_ignoring_duplicates
from secret_files import write_atomically

SEND_PATH = "/message/template"
TOKEN_PATH = "/v4/oa/access_token"
TIMEOUT_SECONDS = 20.0
# Refresh this long before the access token expires.
REFRESH_AHEAD_SECONDS = 600
TOKEN_ROW = "zns"
TOKEN_INVALID = -124
# The person cannot receive it, or refused it: the next channel.
RECIPIENT_CODES = {-108, -114, -118, -119, -139, -141}
# Template not allowed or its data refused: a configuration error, alike for every message.
TEMPLATE_CODES = {-109, -117, -131, -111, -112, -1121, -1122, -1124}
# Out of balance or quota: another channel now rather than a day's wait.
QUOTA_CODES = {-115, -144, -1441, -147, -160}
# Not sent between 22:00 and 06:00: later.
NIGHT_CODE = -133


@dataclass(frozen=True)
class ZnsSettings:
    base_url: str
    oauth_url: str
    app_id: str | None
    secret_key: str | None
    refresh_token: str | None
    # kind -> ZNS template id
    templates: dict[str, str]
    state_file: Path | None = None


def parse_templates(value: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in value.split(",") if "=" in item)
    return {kind.strip(): template.strip() for kind, template in pairs}


class ZnsTokens:
    """The one place access tokens are refreshed: under a lock, ahead of expiry, and the new
    single-use refresh token written down before it is used. With an engine the lock is the
    `provider_tokens` row, shared by every worker process; without one (a single process)
    the tokens live in `state_file`."""

    def __init__(
        self, settings: ZnsSettings, http: httpx.AsyncClient, engine: Engine | None = None
    ) -> None:
        self._settings = settings
        self._http = http
        self._engine = engine
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._expires_at = 0.0
        self._refresh = settings.refresh_token
        if settings.state_file is not None and settings.state_file.exists():
            saved = json.loads(settings.state_file.read_text())
            self._refresh = saved.get("refresh_token") or self._refresh
            self._access = saved.get("access_token")
            self._expires_at = float(saved.get("expires_at", 0))

    async def access_token(self, stale: str | None = None) -> str:
        """A valid token; `stale` is one the server just refused, refreshed even if fresh."""
        async with self._lock:
            fresh = time.time() < self._expires_at - REFRESH_AHEAD_SECONDS
            if self._access and fresh and self._access != stale:
                return self._access
            if self._engine is not None:
                access, self._expires_at = await asyncio.to_thread(self._refresh_in_database, stale)
                self._access = access
                return access
            await self._refresh_now()
            assert self._access is not None
            return self._access

    def _refresh_in_database(self, stale: str | None) -> tuple[str, float]:
        """Under the row's lock: the token another worker refreshed, or a refresh of ours."""
        assert self._engine is not None
        s = self._settings
        now = datetime.now(UTC)
        with Session(self._engine) as session, session.begin():
            # Writing first takes SQLite's write lock; PostgreSQL locks the row below.
            session.execute(
                insert_ignoring_duplicates(
                    ProviderToken.__table__,  # type: ignore[arg-type]
                    self._engine.dialect.name,
                    [
                        {
                            "name": TOKEN_ROW,
                            "access_token": "",
                            "refresh_token": s.refresh_token or "",
                            "expires_at": now,
                            "updated_at": now,
                        }
                    ],
                )
            )
            row = session.scalar(
                select(ProviderToken).where(ProviderToken.name == TOKEN_ROW).with_for_update()
            )
            assert row is not None
            ahead = timedelta(seconds=REFRESH_AHEAD_SECONDS)
            if row.access_token and row.access_token != stale and row.expires_at - ahead > now:
                return row.access_token, row.expires_at.timestamp()
            answer = httpx.post(
                s.oauth_url.rstrip("/") + TOKEN_PATH,
                data={
                    "refresh_token": row.refresh_token,
                    "app_id": s.app_id or "",
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": s.secret_key or ""},
                timeout=TIMEOUT_SECONDS,
            )
            result = answer.json()
            if "access_token" not in result:
                raise RuntimeError(f"ZNS token refresh refused: {result}")
            row.access_token = str(result["access_token"])
            row.refresh_token = str(result["refresh_token"])
            row.expires_at = now + timedelta(seconds=float(result.get("expires_in", 90000)))
            row.updated_at = now
            return row.access_token, row.expires_at.timestamp()

    async def _refresh_now(self) -> None:
        s = self._settings
        answer = await self._http.post(
            s.oauth_url.rstrip("/") + TOKEN_PATH,
            data={
                "refresh_token": self._refresh or "",
                "app_id": s.app_id or "",
                "grant_type": "refresh_token",
            },
            headers={"secret_key": s.secret_key or ""},
        )
        result = answer.json()
        if "access_token" not in result:
            raise RuntimeError(f"ZNS token refresh refused: {result}")
        self._access = str(result["access_token"])
        self._refresh = str(result["refresh_token"])
        self._expires_at = time.time() + float(result.get("expires_in", 90000))
        if s.state_file is not None:
            # Replaced in one step with mode 0600: the single-use refresh token is never lost
            # to a crash mid-write, nor readable by others for an instant.
            write_atomically(
                s.state_file,
                json.dumps(
                    {
                        "access_token": self._access,
                        "refresh_token": self._refresh,
                        "expires_at": self._expires_at,
                    }
                ),
            )


class ZnsChannel:
    name = "zalo"

    def __init__(
        self,
        settings: ZnsSettings,
        http: httpx.AsyncClient | None = None,
        engine: Engine | None = None,
    ) -> None:
        self._settings = settings
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        self.tokens = ZnsTokens(settings, self._http, engine)

    @property
    def configured(self) -> bool:
        s = self._settings
        return bool(s.app_id and s.secret_key and s.refresh_token and s.templates)

    async def send(self, message: OutgoingMessage) -> SendResult:
        template_id = self._settings.templates.get(message.kind)
        if template_id is None:
            return SendResult(Outcome.PERMANENT, detail=f"no ZNS template for {message.kind}")
        if not message.phone:
            return SendResult(Outcome.PERMANENT, detail="no phone number")
        body: dict[str, Any] = {
            "phone": international_phone(message.phone),
            "template_id": template_id,
            "template_data": message.template_data,
            "tracking_id": message.idempotency_key[:48],
        }
        try:
            token = await self.tokens.access_token()
            answer = await self._post(body, token, message.idempotency_key)
            if answer.status_code == 200 and _code(answer) == TOKEN_INVALID:
                token = await self.tokens.access_token(stale=token)
                answer = await self._post(body, token, message.idempotency_key)
        except httpx.ConnectError as e:
            return SendResult(Outcome.RETRY, detail=f"connection: {e}")
        except httpx.TimeoutException:
            # ZNS does not deduplicate (tracking_id is for reconciliation only).
            return SendResult(Outcome.AMBIGUOUS, detail="timeout after sending")
        return _outcome(answer)

    async def _post(self, body: dict[str, Any], token: str, key: str) -> httpx.Response:
        return await self._http.post(
            self._settings.base_url.rstrip("/") + SEND_PATH,
            json=body,
            headers={"access_token": token, "Idempotency-Key": key},
        )


def _code(answer: httpx.Response) -> int | None:
    try:
        return int(answer.json().get("error"))
    except (ValueError, TypeError, AttributeError):
        return None


def _outcome(answer: httpx.Response) -> SendResult:
    if answer.status_code == 429 or answer.status_code >= 500:
        return SendResult(
            Outcome.RETRY,
            detail=f"HTTP {answer.status_code}",
            retry_after_seconds=retry_after(answer.headers.get("Retry-After")),
        )
    if answer.status_code >= 400:
        return SendResult(Outcome.PERMANENT, detail=f"HTTP {answer.status_code}")
    code = _code(answer)
    if code == 0:
        msg_id = str((answer.json().get("data") or {}).get("msg_id") or "")
        return SendResult(Outcome.ACCEPTED, provider_message_id=msg_id)
    detail = f"ZNS {code}: {answer.text[:300]}"
    if code in RECIPIENT_CODES or code in TEMPLATE_CODES or code in QUOTA_CODES:
        return SendResult(Outcome.PERMANENT, detail=detail)
    if code == NIGHT_CODE:
        return SendResult(Outcome.RETRY, detail=detail, retry_after_seconds=3600)
    return SendResult(Outcome.RETRY, detail=detail)
