"""The setup link by email, sent at once from the request that made it (no workflow: the office
sees at once whether it went, and can always read the link from its answer instead)."""

from __future__ import annotations

import logging

from activities.channels.base import Outcome, OutgoingMessage
from activities.channels.email import EmailChannel
from activities.delivery import smtp_settings
from config import Settings
from services.accounts import SETUP_LINK_HOURS, IssuedLink, setup_url

log = logging.getLogger("axis.accounts")


def smtp_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def setup_message(link: IssuedLink, public_url: str) -> OutgoingMessage:
    body = (
        f"Kính gửi {link.name},\n\n"
        "Văn phòng Ban Chỉ đạo đã tạo tài khoản cho anh/chị trên hệ thống điều hành.\n"
        f"Tên đăng nhập: {link.username}\n\n"
        "Mở liên kết sau để đặt mật khẩu (chỉ dùng được một lần, "
        f"hết hạn sau {SETUP_LINK_HOURS} giờ):\n"
        f"{setup_url(public_url, link.token)}\n\n"
        "Nếu anh/chị không chờ thư này, xin bỏ qua.\n"
    )
    return OutgoingMessage(
        # One Message-ID per link: a resend of the same link is recognisable as a duplicate.
        idempotency_key=f"account-setup-{link.account_id}-{link.expires_at.timestamp():.0f}",
        kind="account_setup",
        subject="Tài khoản hệ thống điều hành Ban Chỉ đạo: đặt mật khẩu",
        body=body,
        email=link.email or "",
    )


async def send_setup_link(settings: Settings, link: IssuedLink) -> bool:
    """True when the SMTP server accepted the message; False when there is no address, no
    SMTP server, or the server refused (the link is then shown to the office only)."""
    if not link.email or not smtp_configured(settings):
        return False
    channel = EmailChannel(smtp_settings(settings))
    result = await channel.send(setup_message(link, settings.public_url))
    if result.outcome != Outcome.ACCEPTED:
        # The detail is the server's answer; the link itself is never logged.
        log.warning("setup link for %s not emailed: %s", link.username, result.detail)
        return False
    return True
