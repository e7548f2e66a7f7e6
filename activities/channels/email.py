"""Email over SMTP (aiosmtplib): STARTTLS and auth when configured, a stable Message-ID per
message, 4xx temporary and 5xx permanent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formatdate

import aiosmtplib

from activities.channels.base import Outcome, OutgoingMessage, SendResult

SMTP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "Ban Chi dao <no-reply@axis.invalid>"
    # None: STARTTLS when offered; True: required; False: never.
    starttls: bool | None = None


def one_line(value: str) -> str:
    return " ".join(value.split())


def message_id(idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@steering-axis>"


class EmailChannel:
    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    @property
    def configured(self) -> bool:
        return bool(self._settings.host)

    def build(self, message: OutgoingMessage) -> Message:
        # The legacy MIME classes: the modern header folder drops the space between two
        # encoded words of a long Vietnamese subject ("công vụ" arrives as "côngvụ").
        email = MIMEText(message.body, "plain", "utf-8")
        email["From"] = self._settings.sender
        email["To"] = one_line(message.email)
        # The renderer folds subjects to one line; a newline left could not add a header
        # anyway: the encoded word carries it as text.
        email["Subject"] = Header(one_line(message.subject), "utf-8")  # type: ignore[assignment]
        email["Message-ID"] = message_id(message.idempotency_key)
        email["Date"] = formatdate(localtime=False)
        return email

    async def send(self, message: OutgoingMessage) -> SendResult:
        s = self._settings
        if not message.email or "@" not in message.email:
            return SendResult(Outcome.PERMANENT, detail="no email address")
        email = self.build(message)
        try:
            await aiosmtplib.send(
                email,
                hostname=s.host,
                port=s.port,
                username=s.user,
                password=s.password,
                start_tls=s.starttls,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as e:
            code = min((r.code for r in e.recipients), default=550)
            return _by_code(code, str(e))
        except aiosmtplib.SMTPResponseException as e:
            return _by_code(e.code, e.message)
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, OSError) as e:
            return SendResult(Outcome.RETRY, detail=f"connection: {e}")
        except (aiosmtplib.SMTPReadTimeoutError, aiosmtplib.SMTPServerDisconnected) as e:
            # The data may have reached the server: do not send a second copy on this channel.
            return SendResult(Outcome.AMBIGUOUS, detail=f"no answer after sending: {e}")
        return SendResult(Outcome.ACCEPTED, provider_message_id=str(email["Message-ID"]))


def _by_code(code: int, detail: str) -> SendResult:
    outcome = Outcome.RETRY if 400 <= code < 500 else Outcome.PERMANENT
    return SendResult(outcome, detail=f"SMTP {code}: {detail}"[:500])
