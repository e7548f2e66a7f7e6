"""SMS brandname through eSMS.vn: its RequestId is a real idempotency key (a repeat answers
124, which counts as accepted); an error comes as HTTP 200 with a CodeResult. Delivery reports
come back on a CallbackUrl that carries a secret of the installation."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import httpx

from activities.channels.base import (
    CodeClass,
    Outcome,
    OutgoingMessage,
    ProviderCode,
    SendResult,
    by_class,
    local_phone,
    retry_after,
)

SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
TIMEOUT_SECONDS = 20.0
# Customer-care SMS: the type whose texts must match a template registered for the brandname.
CUSTOMER_CARE = "2"

_C = CodeClass
# Every code of eSMS's table that a customer-care send can answer
# (https://developers.esms.vn/en/esms-api/table-of-error-codes; ../shared/CHANNELS.md); the
# others answer other services (status queries, voice, advertising, Zalo). Unlisted codes are
# retried.
ESMS_CODES: dict[str, ProviderCode] = {
    "99": ProviderCode("the phone number is blocked", _C.PERMANENT),
    "100": ProviderCode("accepted (not yet delivered)", _C.ACCEPTED),
    "101": ProviderCode("wrong ApiKey or SecretKey", _C.CONFIGURATION),
    "102": ProviderCode("no price list for the account", _C.CONFIGURATION),
    "103": ProviderCode("not enough balance", _C.CONFIGURATION),
    "104": ProviderCode("the brandname does not exist", _C.CONFIGURATION),
    "108": ProviderCode("phone number in the wrong format", _C.PERMANENT),
    "118": ProviderCode("message type unsupported", _C.CONFIGURATION),
    # A repeated RequestId: the first send was accepted.
    "124": ProviderCode("duplicate RequestId", _C.ACCEPTED),
    "140": ProviderCode("this IP is not allowed to send", _C.CONFIGURATION),
    "146": ProviderCode("the text matches no registered customer-care template", _C.CONFIGURATION),
    # The brandname is not registered with this number's network: other networks still work.
    "177": ProviderCode("the brandname is not registered on this network", _C.PERMANENT),
    "300": ProviderCode("message type missing", _C.CONFIGURATION),
}
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
        """Refuses keys without a brandname: every customer-care SMS would be refused."""
        if settings.api_key and settings.secret_key and not settings.brandname.strip():
            raise ValueError(
                "AXIS_ESMS_BRANDNAME is empty: eSMS sends customer-care SMS only under a "
                "registered brandname; set it, or unset AXIS_ESMS_API_KEY to turn SMS off"
            )
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
            "SmsType": CUSTOMER_CARE,
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
    known = ESMS_CODES.get(code)
    if known is not None and known.kind == CodeClass.ACCEPTED:
        return SendResult(Outcome.ACCEPTED, provider_message_id=str(result.get("SMSID") or ""))
    if known is None:
        return SendResult(
            Outcome.RETRY, detail=f"eSMS {code}: {result.get('ErrorMessage', '')}"[:500]
        )
    detail = f"eSMS {code} ({known.meaning})"
    return by_class(known.kind, detail, f"sms:{code}")
