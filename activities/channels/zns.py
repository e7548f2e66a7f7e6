"""Zalo Notification Service: a pre-approved template message to a phone number.

ZNS answers HTTP 200 even on failure, with the error in the body; what each code means is in
`ZNS_CODES`, one table. The access token lasts about 25 hours and its refresh token is single
use, so every refresh goes through one `ZnsTokens` under a lock, and the new refresh token is
kept at once. A refresh that fails (the refresh token used, expired or refused, a wrong secret,
an unreadable answer, no answer) happens before anything is sent: the message goes on the next
channel at once and the steering office is told. The chain of refresh tokens belongs to the
token it was seeded with (`AXIS_ZNS_REFRESH_TOKEN`): configuring a new one, after the office
re-authorises the app, starts a new chain."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from activities.channels.base import (
    CodeClass,
    Outcome,
    OutgoingMessage,
    ProviderCode,
    SendResult,
    Unavailable,
    by_class,
    international_phone,
    retry_after,
)
from db.models import ProviderToken
from db.upsert import insert_ignoring_duplicates
from secret_files import write_atomically
from vocabulary.cases import CaseNotificationKind

SEND_PATH = "/message/template"
TOKEN_PATH = "/v4/oa/access_token"
TIMEOUT_SECONDS = 20.0
# Refresh this long before the access token expires.
REFRESH_AHEAD_SECONDS = 600
# A refresh token Zalo refused is not offered again by this process for this long: a wave of
# messages fails over at once instead of asking Zalo once each, and a refusal that was Zalo's
# passing fault heals within the hour.
REFUSED_HOLD_SECONDS = 3600
# The row of the chain stored before chains were named after their seed: adopted by the first
# chain that finds it, since its seed was the configured token of that time.
LEGACY_TOKEN_ROW = "zns"
TOKEN_INVALID = -124
NIGHT_CODE = -133
NIGHT_RETRY_SECONDS = 3600

_C = CodeClass
# Every code of Zalo's table (https://zalo.cloud/zns/guidelines/handle-error-code, and the
# codes ../shared/CHANNELS.md names). Unlisted codes are retried, as -100 is.
ZNS_CODES: dict[int, ProviderCode] = {
    0: ProviderCode("success", _C.ACCEPTED),
    -100: ProviderCode("unknown error, try again later", _C.TEMPORARY),
    -101: ProviderCode("application invalid", _C.CONFIGURATION),
    -102: ProviderCode("application does not exist", _C.CONFIGURATION),
    -103: ProviderCode("application not activated", _C.CONFIGURATION),
    -104: ProviderCode("application secret key invalid", _C.CONFIGURATION),
    -105: ProviderCode("application not linked to any Official Account", _C.CONFIGURATION),
    -106: ProviderCode("method unsupported", _C.CONFIGURATION),
    -107: ProviderCode("message id invalid", _C.CONFIGURATION),
    -108: ProviderCode("phone number invalid", _C.PERMANENT),
    -109: ProviderCode("template id invalid", _C.CONFIGURATION),
    # The person's Zalo app is too old to show it (Zalo: "the user must update"): theirs alone.
    -110: ProviderCode("the person's Zalo version is unsupported", _C.PERMANENT),
    -111: ProviderCode("template data empty", _C.CONFIGURATION),
    -112: ProviderCode("template data invalid", _C.CONFIGURATION),
    -1121: ProviderCode("a template parameter is longer than allowed", _C.CONFIGURATION),
    -1122: ProviderCode("a template parameter is missing", _C.CONFIGURATION),
    -1123: ProviderCode("the QR code cannot be made", _C.CONFIGURATION),
    -1124: ProviderCode("a template parameter has the wrong format", _C.CONFIGURATION),
    -113: ProviderCode("button invalid", _C.CONFIGURATION),
    -114: ProviderCode("the person is inactive or refuses ZNS", _C.PERMANENT),
    -115: ProviderCode("the ZNS account is out of balance", _C.CONFIGURATION),
    -116: ProviderCode("text invalid", _C.CONFIGURATION),
    -117: ProviderCode("the OA or app may not use this template", _C.CONFIGURATION),
    -118: ProviderCode("no Zalo account for this number", _C.PERMANENT),
    -119: ProviderCode("the account cannot receive ZNS", _C.PERMANENT),
    # Refused again right after a refresh: the next attempt refreshes once more.
    -124: ProviderCode("access token invalid", _C.TEMPORARY),
    -131: ProviderCode("template not approved", _C.CONFIGURATION),
    -133: ProviderCode("not sent between 22:00 and 06:00", _C.TEMPORARY),
    -139: ProviderCode("the person refused this kind of message", _C.PERMANENT),
    -141: ProviderCode("the person refused messages from this OA", _C.PERMANENT),
    # Quotas: another channel today rather than a day's wait.
    -144: ProviderCode("the OA's daily quota is spent", _C.PERMANENT),
    -1441: ProviderCode("the OA's quota is spent", _C.PERMANENT),
    -147: ProviderCode("the template's daily quota is spent", _C.PERMANENT),
    -160: ProviderCode("quota to this person is spent", _C.PERMANENT),
}


# The values a message fills a ZNS template's parameters with
# (activities/delivery/messages.py): a kind's template may declare those its messages fill.
# A directive's: the person, the commune, the title, the deadline, the link; a digest's: the
# person and the number of items.
DIRECTIVE_PARAMETERS = frozenset(
    {"ten_can_bo", "don_vi", "tieu_de", "han_xu_ly", "lien_ket", "so_viec"}
)
# A dossier's or feedback's: the person, the commune, the procedure or the feedback's service
# (tieu_de), the receipt code (ma_ho_so), the due time (han_xu_ly), the case's link.
CASE_PARAMETERS = frozenset(
    {"ten_can_bo", "don_vi", "tieu_de", "ma_ho_so", "han_xu_ly", "lien_ket"}
)
FILLABLE_PARAMETERS = DIRECTIVE_PARAMETERS | CASE_PARAMETERS
CASE_KINDS = frozenset(kind.value for kind in CaseNotificationKind)
PARAMETER_TYPES = frozenset({"string", "number", "date"})
ELLIPSIS = "…"


@dataclass(frozen=True)
class TemplateParameter:
    """One parameter of a registered ZNS template, as Zalo approved it."""

    name: str
    kind: str = "string"
    max_length: int = 100


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
    # kind -> the parameters its template declares; a kind without them gets every value
    parameters: dict[str, tuple[TemplateParameter, ...]] = field(default_factory=dict)


def parse_templates(value: str) -> dict[str, str]:
    """`issued=643118,reminder=643119`: each kind's template id (its parameters, written after
    the id as `|name:type:max`, are read by `parse_template_parameters`)."""
    pairs = (item.split("=", 1) for item in value.split(",") if "=" in item)
    return {kind.strip(): template.split("|")[0].strip() for kind, template in pairs}


def fillable_parameters(kind: str) -> frozenset[str]:
    """The parameters a kind's messages have values for."""
    return CASE_PARAMETERS if kind in CASE_KINDS else DIRECTIVE_PARAMETERS


def parse_template_parameters(value: str) -> dict[str, tuple[TemplateParameter, ...]]:
    """Each kind's template parameters, as registered with Zalo, written after the template id:
    `issued=643118|ten_can_bo:string:30|tieu_de:string:100|han_xu_ly:date:10`, or for a
    dossier's reminder `dossier_reminder=643120|ma_ho_so:string:20|han_xu_ly:date:10`. A name
    the kind's messages cannot fill, an unknown type or a length that is not a positive number
    is refused with a sentence naming it (at start, where the channels are built)."""
    declared: dict[str, tuple[TemplateParameter, ...]] = {}
    for item in value.split(","):
        if "=" not in item or "|" not in item:
            continue
        kind, _, spec = item.partition("=")
        parameters = []
        for part in spec.split("|")[1:]:
            name, kind_of, length = ([*part.strip().split(":"), "", ""])[:3]
            if name not in FILLABLE_PARAMETERS:
                raise ValueError(
                    f"AXIS_ZNS_TEMPLATES: {kind.strip()} declares {name!r}, which no message "
                    f"fills (one of {', '.join(sorted(FILLABLE_PARAMETERS))})"
                )
            if name not in fillable_parameters(kind.strip()):
                raise ValueError(
                    f"AXIS_ZNS_TEMPLATES: {kind.strip()} declares {name!r}, which its "
                    "messages do not fill (they fill "
                    f"{', '.join(sorted(fillable_parameters(kind.strip())))})"
                )
            if (kind_of or "string") not in PARAMETER_TYPES:
                raise ValueError(
                    f"AXIS_ZNS_TEMPLATES: {kind.strip()}.{name} has type {kind_of!r}, not one "
                    f"of {', '.join(sorted(PARAMETER_TYPES))}"
                )
            if length and (not length.isdigit() or int(length) < 1):
                raise ValueError(
                    f"AXIS_ZNS_TEMPLATES: {kind.strip()}.{name} has maximum length {length!r}, "
                    "not a positive number"
                )
            parameters.append(
                TemplateParameter(name, kind_of or "string", int(length) if length else 100)
            )
        declared[kind.strip()] = tuple(parameters)
    return declared


def shorten(value: str, limit: int) -> str:
    """At most `limit` characters, cut on a word boundary and marked when cut."""
    if len(value) <= limit:
        return value
    cut = value[: limit - len(ELLIPSIS)]
    if value[len(cut)] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + ELLIPSIS


def fill_template(
    parameters: tuple[TemplateParameter, ...], values: dict[str, str]
) -> dict[str, str] | str:
    """Exactly the template's parameters, texts shortened to their length (a number or date
    is never cut: Zalo refuses it whole rather than take a wrong one); or the name of one that
    this message has no value for."""
    filled = {}
    for parameter in parameters:
        value = " ".join(values.get(parameter.name, "").split())
        if not value:
            return parameter.name
        if parameter.kind == "string":
            value = shorten(value, parameter.max_length)
        filled[parameter.name] = value
    return filled


def fingerprint(token: str | None) -> str:
    """What is kept of a token to tell it from another: never the token itself."""
    return hashlib.sha256((token or "").encode()).hexdigest()[:16]


def chain_row(seed: str | None) -> str:
    """The `provider_tokens` row of the chain seeded with `seed`."""
    return f"zns:{fingerprint(seed)}"


class RefreshFailed(Exception):
    """The access token could not be renewed; nothing was sent. `refused`: Zalo answered that
    the refresh token (or the app's id or secret) is no good, so asking again with it is
    useless until the app is re-authorised."""

    def __init__(self, cause: str, refresh_token: str, refused: bool) -> None:
        super().__init__(cause)
        self.cause = cause
        self.refused = refused
        self.cause_key = f"zalo:refresh:{fingerprint(refresh_token)}"

    def result(self) -> SendResult:
        detail = f"Zalo unavailable: {self.cause}"
        return SendResult(
            Outcome.PERMANENT, detail=detail, unavailable=Unavailable(detail, self.cause_key)
        )


class ZnsTokens:
    """The one place access tokens are refreshed: under a lock, ahead of expiry, and the new
    single-use refresh token written down before it is used. With an engine the lock is the
    chain's `provider_tokens` row, shared by every worker process; without one (a single
    process) the tokens live in `state_file`."""

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
        # The refresh token Zalo refused, and why: not offered again by this process.
        self._refused: RefreshFailed | None = None
        self._refused_token = ""
        self._refused_at = 0.0
        if settings.state_file is not None and settings.state_file.exists():
            saved = json.loads(settings.state_file.read_text())
            # A state kept for another seed belongs to a chain the office has replaced.
            if saved.get("seed", fingerprint(settings.refresh_token)) == fingerprint(
                settings.refresh_token
            ):
                self._refresh = saved.get("refresh_token") or self._refresh
                self._access = saved.get("access_token")
                self._expires_at = float(saved.get("expires_at", 0))

    async def access_token(self, stale: str | None = None) -> str:
        """A valid token; `stale` is one the server just refused, refreshed even if fresh.
        Raises RefreshFailed when none can be had."""
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
        name = chain_row(s.refresh_token)
        with Session(self._engine) as session, session.begin():
            if session.get(ProviderToken, name) is None:
                # Writing first takes SQLite's write lock; PostgreSQL locks the legacy row.
                session.execute(
                    update(ProviderToken)
                    .where(ProviderToken.name == LEGACY_TOKEN_ROW)
                    .values(name=name)
                )
                # Chains of earlier seeds: their tokens are of no use any more.
                session.execute(
                    delete(ProviderToken).where(
                        ProviderToken.name.like("zns:%"), ProviderToken.name != name
                    )
                )
            session.execute(
                insert_ignoring_duplicates(
                    ProviderToken.__table__,  # type: ignore[arg-type]
                    self._engine.dialect.name,
                    [
                        {
                            "name": name,
                            "access_token": "",
                            "refresh_token": s.refresh_token or "",
                            "expires_at": now,
                            "updated_at": now,
                        }
                    ],
                )
            )
            row = session.scalar(
                select(ProviderToken).where(ProviderToken.name == name).with_for_update()
            )
            assert row is not None
            expires_at = row.expires_at.replace(tzinfo=row.expires_at.tzinfo or UTC)
            ahead = timedelta(seconds=REFRESH_AHEAD_SECONDS)
            if row.access_token and row.access_token != stale and expires_at - ahead > now:
                return row.access_token, expires_at.timestamp()
            result = self._exchange_sync(row.refresh_token)
            row.access_token = str(result["access_token"])
            row.refresh_token = str(result["refresh_token"])
            row.expires_at = now + timedelta(seconds=float(result.get("expires_in", 90000)))
            row.updated_at = now
            return row.access_token, row.expires_at.timestamp()

    def _held_back(self, refresh_token: str) -> RefreshFailed | None:
        """The refusal of this refresh token, while it is held back."""
        if self._refused is None or refresh_token != self._refused_token:
            return None
        if time.monotonic() - self._refused_at > REFUSED_HOLD_SECONDS:
            return None
        return self._refused

    def _exchange_sync(self, refresh_token: str) -> dict[str, Any]:
        if (refusal := self._held_back(refresh_token)) is not None:
            raise refusal
        s = self._settings
        try:
            answer = httpx.post(
                s.oauth_url.rstrip("/") + TOKEN_PATH,
                data=self._form(refresh_token),
                headers={"secret_key": s.secret_key or ""},
                timeout=TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as error:
            raise _unreachable(error, refresh_token) from error
        return self._read(answer, refresh_token)

    async def _refresh_now(self) -> None:
        s = self._settings
        refresh_token = self._refresh or ""
        if (refusal := self._held_back(refresh_token)) is not None:
            raise refusal
        try:
            answer = await self._http.post(
                s.oauth_url.rstrip("/") + TOKEN_PATH,
                data=self._form(refresh_token),
                headers={"secret_key": s.secret_key or ""},
            )
        except httpx.HTTPError as error:
            raise _unreachable(error, refresh_token) from error
        result = self._read(answer, refresh_token)
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
                        "seed": fingerprint(s.refresh_token),
                    }
                ),
            )

    def _form(self, refresh_token: str) -> dict[str, str]:
        return {
            "refresh_token": refresh_token,
            "app_id": self._settings.app_id or "",
            "grant_type": "refresh_token",
        }

    def _read(self, answer: httpx.Response, refresh_token: str) -> dict[str, Any]:
        """The new tokens, or RefreshFailed saying why not."""
        try:
            result = answer.json()
        except ValueError:
            raise RefreshFailed(
                f"token refresh answered HTTP {answer.status_code}, not JSON",
                refresh_token,
                refused=False,
            ) from None
        if isinstance(result, dict) and result.get("access_token") and result.get("refresh_token"):
            return result
        if answer.status_code == 429 or answer.status_code >= 500:
            raise RefreshFailed(
                f"token refresh answered HTTP {answer.status_code}", refresh_token, refused=False
            )
        refused = RefreshFailed(
            f"token refresh refused ({str(result)[:200]}); re-authorise the Zalo app and set "
            "AXIS_ZNS_REFRESH_TOKEN",
            refresh_token,
            refused=True,
        )
        self._refused, self._refused_token = refused, refresh_token
        self._refused_at = time.monotonic()
        raise refused


def _unreachable(error: httpx.HTTPError, refresh_token: str) -> RefreshFailed:
    what = "timed out" if isinstance(error, httpx.TimeoutException) else f"failed ({error!r})"
    return RefreshFailed(f"token refresh {what}", refresh_token, refused=False)


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
        data: dict[str, str] | str = message.template_data
        declared = self._settings.parameters.get(message.kind)
        if declared:
            data = fill_template(declared, message.template_data)
            if isinstance(data, str):
                # Zalo refuses an empty parameter: the template does not suit this kind.
                detail = f"no value for ZNS parameter {data} of template {template_id}"
                return SendResult(
                    Outcome.PERMANENT,
                    detail=detail,
                    unavailable=Unavailable(detail, f"zalo:empty:{template_id}:{data}"),
                )
        body: dict[str, Any] = {
            "phone": international_phone(message.phone),
            "template_id": template_id,
            "template_data": data,
            "tracking_id": message.idempotency_key[:48],
        }
        stale: str | None = None
        for _ in range(2):
            try:
                token = await self.tokens.access_token(stale=stale)
            except RefreshFailed as failure:
                # Before anything was sent: the next channel, at once.
                return failure.result()
            except (SQLAlchemyError, OSError) as error:
                # The tokens' store failed before anything was sent: this channel again later.
                return SendResult(Outcome.RETRY, detail=f"ZNS token store: {error!r}"[:500])
            try:
                answer = await self._post(body, token, message.idempotency_key)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                return SendResult(Outcome.RETRY, detail=f"connection: {e!r}")
            except httpx.TransportError:
                # The request may have reached Zalo, which does not deduplicate
                # (tracking_id is for reconciliation only).
                return SendResult(Outcome.AMBIGUOUS, detail="timeout after sending")
            if answer.status_code != 200 or _code(answer) != TOKEN_INVALID or stale:
                break
            stale = token
        return _outcome(answer, template_id)

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


def _outcome(answer: httpx.Response, template_id: str) -> SendResult:
    if answer.status_code == 429 or answer.status_code >= 500:
        return SendResult(
            Outcome.RETRY,
            detail=f"HTTP {answer.status_code}",
            retry_after_seconds=retry_after(answer.headers.get("Retry-After")),
        )
    if answer.status_code >= 400:
        return SendResult(Outcome.PERMANENT, detail=f"HTTP {answer.status_code}")
    code = _code(answer)
    known = ZNS_CODES.get(code) if code is not None else None
    if known is not None and known.kind == CodeClass.ACCEPTED:
        msg_id = str((answer.json().get("data") or {}).get("msg_id") or "")
        return SendResult(Outcome.ACCEPTED, provider_message_id=msg_id)
    if known is None:
        return SendResult(Outcome.RETRY, detail=f"ZNS {code}: {answer.text[:300]}")
    detail = f"ZNS {code} ({known.meaning}), template {template_id}"
    if code == NIGHT_CODE:
        return SendResult(Outcome.RETRY, detail=detail, retry_after_seconds=NIGHT_RETRY_SECONDS)
    return by_class(known.kind, detail, f"zalo:{code}:{template_id}")
