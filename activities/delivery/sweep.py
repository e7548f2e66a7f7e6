"""The sweep that starts the delivery of messages left queued without their workflow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client

from activities.delivery.settings import DeliveryConfig
from activities.delivery.starts import start_deliveries
from db.models import Delivery
from vocabulary.delivery import DeliveryState

# A message queued this long without its delivery workflow is started by the sweep.
STRANDED_AFTER = timedelta(minutes=2)
SWEEP_EVERY_SECONDS = 60


def stranded_keys(engine: Engine, older_than: timedelta, limit: int = 1000) -> list[str]:
    """Messages still queued a while after they were recorded: their activity stopped between
    recording them and starting their delivery (and was never retried, e.g. a workflow
    terminated by hand)."""
    cutoff = datetime.now(UTC) - older_than
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Delivery.notification_key)
                .where(
                    Delivery.state == DeliveryState.QUEUED.value,
                    Delivery.seq == 0,
                    Delivery.updated_at < cutoff,
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
        )


async def sweep_stranded(client: Client, config: DeliveryConfig, engine: Engine) -> int:
    """Start the delivery of every stranded message; harmless for one already started."""
    keys = await asyncio.to_thread(stranded_keys, engine, STRANDED_AFTER)
    return await start_deliveries(client, config, keys, engine) if keys else 0
