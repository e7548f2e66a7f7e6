"""What an installation's settings say about delivery: quiet hours, digests, the daily cap,
the configured channels (the providers', and signed webhooks) and the task queue messages go
out from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from activities.channels.base import Channel
from activities.channels.webhook import WebhookChannel, WebhookEndpoint, parse_allowed_hosts
from activities.delivery.providers import configured_channels
from activities.links import resolve_link_keys
from activities.rendering import Renderer
from config import Settings
from vocabulary.delivery import DeliveryPolicy

QUIET_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DELIVERY_QUEUE_SUFFIX = "-delivery"


def clock_minutes(value: str) -> int:
    hours, _, minutes = value.strip().partition(":")
    total = int(hours) * 60 + int(minutes or 0)
    if not 0 <= total < 24 * 60:
        raise ValueError(f"not a time of day: {value!r}")
    return total


def parse_quiet_hours(value: str) -> tuple[int | None, int | None]:
    """'21:00-07:00' → minutes after midnight of start and end; '' → no quiet hours."""
    if not value.strip():
        return None, None
    match = QUIET_HOURS.match(value)
    if match is None:
        raise ValueError(f"AXIS_QUIET_HOURS must look like 21:00-07:00, not {value!r}")
    h1, m1, h2, m2 = match.groups()
    return clock_minutes(f"{h1}:{m1}"), clock_minutes(f"{h2}:{m2}")


@dataclass
class DeliveryConfig:
    channels: dict[str, Channel]
    policy: DeliveryPolicy
    link_keys: list[str]
    link_grace: timedelta = timedelta(days=7)
    task_queue: str = ""
    renderer: Renderer = field(default_factory=Renderer)
    # Where a dossier's or feedback's SMS and Zalo message link to (AXIS_PUBLIC_URL).
    public_url: str = ""

    def usable_channels(self, preferred: str) -> list[str]:
        """The person's channels, in their order, that this installation can send on."""
        names = [c.strip() for c in preferred.split(",") if c.strip()]
        return [n for n in names if n in self.channels and self.channels[n].configured]


def delivery_queue(task_queue: str) -> str:
    """Messages go out from a task queue of their own, beside the product's."""
    return task_queue + DELIVERY_QUEUE_SUFFIX


def delivery_config(
    settings: Settings,
    task_queue: str | None = None,
    engine: Engine | None = None,
    webhook_endpoints: Mapping[str, WebhookEndpoint] | None = None,
) -> DeliveryConfig:
    """With `engine`, the ZNS tokens are shared by every worker through the database.
    `webhook_endpoints`, by the person's email, are where the `webhook` channel posts; a person
    without one falls to their next channel. A malformed AXIS_WEBHOOK_ALLOW_HOSTS stops the
    process here, at start."""
    start, end = parse_quiet_hours(settings.quiet_hours)
    policy = DeliveryPolicy(
        quiet_start_minutes=start,
        quiet_end_minutes=end,
        digest_kinds=[k.strip() for k in settings.digest_kinds.split(",") if k.strip()],
        digest_minutes=clock_minutes(settings.digest_time) if settings.digest_time else None,
        daily_cap=settings.daily_cap,
    )
    webhook = WebhookChannel(
        webhook_endpoints or {}, allowed=parse_allowed_hosts(settings.webhook_allow_hosts)
    )
    return DeliveryConfig(
        channels={**configured_channels(settings, engine), webhook.name: webhook},
        policy=policy,
        link_keys=resolve_link_keys(settings.link_keys, settings.data_dir),
        link_grace=timedelta(days=settings.link_grace_days),
        task_queue=task_queue or settings.task_queue,
        public_url=settings.public_url,
    )
