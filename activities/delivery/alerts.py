"""The steering office told that a channel cannot send to anyone (its token refused, its keys,
sender or template wrong): once a day for each breakdown, however many messages it stops,
while those messages go on their next channel."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.channels.base import Unavailable
from activities.delivery.office_notices import record_office_notices
from activities.delivery.settings import DeliveryConfig
from db.models import Notification

TEMPLATE = "channel_unavailable"


def alert_step(unavailable: Unavailable, day: str) -> str:
    """The same for one breakdown on one local day."""
    return hashlib.sha256(f"{unavailable.cause_key}|{day}".encode()).hexdigest()[:16]


def record_channel_alert(
    engine: Engine,
    config: DeliveryConfig,
    channel: str,
    unavailable: Unavailable,
    day: str,
    stopped_key: str,
) -> list[str]:
    """Record the office's notices that `channel` is unavailable, naming the first message it
    stopped (`stopped_key`; of a digest, its first message); returns their keys, the same
    on every call of the day, so the caller's start sends each once."""
    step = alert_step(unavailable, day)
    with Session(engine) as session, session.begin():
        stopped = session.scalar(
            select(Notification).where(Notification.idempotency_key == stopped_key)
        )
        if stopped is None:
            return []
        return record_office_notices(
            session,
            config,
            stopped,
            TEMPLATE,
            f"{channel}-unavailable-{step}",
            lambda person: f"notify:channel:{channel}:unavailable:{step}:{person.id}",
            {"channel": channel, "cause": unavailable.cause},
        )
