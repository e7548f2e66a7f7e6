"""SMS brandname through eSMS.vn: its RequestId is a real idempotency key (a repeat answers
124, which counts as accepted); an error comes as HTTP 200 with a CodeResult. Delivery reports
come back on a CallbackUrl that carries a secret of the installation."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import httpx

from activities.channels.base import (
    Outcome,
    OutgoingMessage,
    SendResult,
    local_phone,
    retry_after,
)

SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
TIMEOUT_SECONDS = 20.0
ACCEPTED_CODES = {"100", "124"}
# Bad key, no balance, unknown brandname, IP not allowed, content not matching the template:
# a configuration error, alike for every message; a bad phone is this message's alone.
PERMANENT_CODES = {"101", "103", "104", "108", "140", "146"}
# Where eSMS reports what became of an SMS (api/routes/callbacks.py), followed by the secret.
CALLBACK_PATH = "/api/v1/callbacks/esms"
# The derived secret is for this purpose only: knowing it signs no acknowledgement link.
CALLBACK_LABEL = b"esms-callback"


def callback_secrets(configured: str | None, link_keys: list[str]) -> list[str]:
    """The callback secrets the API accepts, the first being the one to send.
    AXIS_ESMS_CALLBACK_SECRET when set; otherwise one derived from each acknowledgement-link
    key (HMAC-SHA256 of a fixed label), which every process of the installation already shares,
    so an unconfigured `make run` works. After a key rotation, reports for SMS sent under the
    older key are still accepted, as old links are."""
    if configured:
        return [configured]
    return [hmac.new(key.encode(), CALLBACK_LABEL, hashlib.sha256).hexdigest() for key in link_keys]


def callback_url(public_url: str, secret: str) -> str:
    return f"{public_url.rstrip('/')}{CALLBACK_PATH}/{secret}"


@dataclass(frozen=True)
class EsmsSettings:
    base_url: str
    api_key: str | None
    secret_key: str | None
    brandname: str = ""
    sandbox: bool = False
    callback_url: str = ""


class EsmsChannel:
    name = "sms"

    def __init__(self, settings: EsmsSettings, http: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)

    @property
    def configured(self) -> bool:
        return bool(self._settings.api_key and self._settings.secret_key)

    async def send(self, message: OutgoingMessage) -> SendResult:
        s = self._settings
        if not message.phone:
            return SendResult(Outcome.PERMANENT, detail="no phone number")
        body = {
            "ApiKey": s.api_key,
            "SecretKey": s.secret_key,
            "Phone": local_phone(message.phone),
            "Content": message.body,
            "Brandname": s.brandname,
            "SmsType": "2",
            "IsUnicode": "0" if message.body.isascii() else "1",
            "Sandbox": "1" if s.sandbox else "0",
            "RequestId": message.idempotency_key[:50],
        }
        if s.callback_url:
            body["CallbackUrl"] = s.callback_url
        try:
            answer = await self._http.post(
                s.base_url.rstrip("/") + SEND_PATH,
                json=body,
                headers={"Idempotency-Key": message.idempotency_key},
            )
        except httpx.ConnectError as e:
            return SendResult(Outcome.RETRY, detail=f"connection: {e}")
        except httpx.TimeoutException:
            # eSMS deduplicates on RequestId: sending again is safe and settles the doubt.
            return SendResult(Outcome.RETRY, detail="timeout")
        return _outcome(answer)


def _outcome(answer: httpx.Response) -> SendResult:
    if answer.status_code == 429 or answer.status_code >= 500:
        return SendResult(
            Outcome.RETRY,
            detail=f"HTTP {answer.status_code}",
            retry_after_seconds=retry_after(answer.headers.get("Retry-After")),
        )
    if answer.status_code >= 400:
        return SendResult(Outcome.PERMANENT, detail=f"HTTP {answer.status_code}")
    try:
        result = answer.json()
        code = str(result.get("CodeResult", ""))
    except (ValueError, AttributeError):
        return SendResult(Outcome.RETRY, detail="unreadable answer")
    if code in ACCEPTED_CODES:
        return SendResult(Outcome.ACCEPTED, provider_message_id=str(result.get("SMSID") or ""))
    detail = f"eSMS {code}: {result.get('ErrorMessage', '')}"[:500]
    if code in PERMANENT_CODES:
        return SendResult(Outcome.PERMANENT, detail=detail)
    return SendResult(Outcome.RETRY, detail=detail)
