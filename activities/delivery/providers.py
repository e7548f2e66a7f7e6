"""The providers a message can go out through (email, eSMS, Zalo ZNS), built from settings.
A provider without its settings is built all the same and reports itself not configured."""

from __future__ import annotations

from sqlalchemy import Engine

from activities.channels.base import Channel
from activities.channels.email import EmailChannel, SmtpSettings
from activities.channels.esms import EsmsChannel, EsmsSettings, callback_secrets, callback_url
from activities.channels.zns import (
    ZnsChannel,
    ZnsSettings,
    parse_template_parameters,
    parse_templates,
)
from activities.links import resolve_link_keys
from config import Settings


def smtp_settings(settings: Settings) -> SmtpSettings:
    """The SMTP server every email goes through: the delivery outbox's and a setup link's."""
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
    )


def configured_channels(settings: Settings, engine: Engine | None = None) -> dict[str, Channel]:
    """Every channel by the name a person's preferences use. With `engine`, the ZNS tokens are
    shared by every worker through the database."""
    return {
        "email": EmailChannel(smtp_settings(settings)),
        "sms": EsmsChannel(
            EsmsSettings(
                base_url=settings.esms_base_url,
                api_key=settings.esms_api_key,
                secret_key=settings.esms_secret_key,
                brandname=settings.esms_brandname,
                sandbox=settings.esms_sandbox,
                callback_url=callback_url(
                    settings.public_url,
                    callback_secrets(
                        settings.esms_callback_secret,
                        resolve_link_keys(settings.link_keys, settings.data_dir),
                    )[0],
                ),
            )
        ),
        "zalo": ZnsChannel(
            ZnsSettings(
                base_url=settings.zns_base_url,
                oauth_url=settings.zns_oauth_url,
                app_id=settings.zns_app_id,
                secret_key=settings.zns_secret_key,
                refresh_token=settings.zns_refresh_token,
                templates=parse_templates(settings.zns_templates),
                state_file=settings.data_dir / "zns-token.json",
                parameters=parse_template_parameters(settings.zns_templates),
            ),
            engine=engine,
        ),
    }
