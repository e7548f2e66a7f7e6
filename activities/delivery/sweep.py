"""The sweep that starts the delivery of messages left behind: queued without their workflow,
or in a digest that ended without them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.delivery.settings import DeliveryConfig
from activities.delivery.starts import start_again, start_deliveries
from db.models import Delivery
from vocabulary.delivery import DeliveryState, digest_workflow_id

# A message queued this long without its delivery workflow is started by the sweep.
STRANDED_AFTER = timedelta(minutes=2)
SWEEP_EVERY_SECONDS = 60
# A message put in a digest before the digest's key was written beside it (`detail` empty)
# cannot be matched to its digest: this long after, its digest has ended (a digest goes out the
# morning after; its retries and a day held by the daily cap fit well within).
UNNAMED_DIGEST_ENDED_AFTER = timedelta(days=3)


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


def digest_members(
    engine: Engine, older_than: timedelta, limit: int = 1000
) -> list[tuple[str, str, datetime]]:
    """Messages in a digest for a while: each one's key, its digest's key (empty when written
    before digests were named) and when it joined."""
    cutoff = datetime.now(UTC) - older_than
    with Session(engine) as session:
        return [
            (key, digest, joined.replace(tzinfo=joined.tzinfo or UTC))
            for key, digest, joined in session.execute(
                select(Delivery.notification_key, Delivery.detail, Delivery.updated_at)
                .where(
                    Delivery.state == DeliveryState.IN_DIGEST.value,
                    Delivery.updated_at < cutoff,
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
        ]


async def ended(client: Client, digest_key: str) -> bool:
    """Whether the digest's workflow has ended (or is not known to the server any more)."""
    try:
        description = await client.get_workflow_handle(digest_workflow_id(digest_key)).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return True
        raise
    return description.status != WorkflowExecutionStatus.RUNNING


async def left_in_ended_digests(client: Client, engine: Engine) -> list[str]:
    """Messages still in a digest that has ended: it went out (or gave up) without them, as a
    message that joined after the digest took its items did before joining was answered."""
    members = await asyncio.to_thread(digest_members, engine, STRANDED_AFTER)
    digests = sorted({digest for _, digest, _ in members if digest})
    over = {d for d in digests if await ended(client, d)}
    unnamed_cutoff = datetime.now(UTC) - UNNAMED_DIGEST_ENDED_AFTER
    return [
        key
        for key, digest, joined in members
        if digest in over or (not digest and joined < unnamed_cutoff)
    ]


async def sweep_stranded(client: Client, config: DeliveryConfig, engine: Engine) -> int:
    """Start the delivery of every message left behind; harmless for one already started."""
    keys = await asyncio.to_thread(stranded_keys, engine, STRANDED_AFTER)
    started = await start_deliveries(client, config, keys, engine) if keys else 0
    left = await left_in_ended_digests(client, engine)
    return started + (await start_again(client, config, left, engine) if left else 0)
