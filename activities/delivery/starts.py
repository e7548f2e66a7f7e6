"""A recorded message's first state, and the start of its delivery workflow (or of a new one,
for a message left in a digest that ended without it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.delivery.settings import DeliveryConfig
from db.models import Delivery, Notification, Person
from vocabulary.delivery import DeliveryState, delivery_workflow_id
from workflows.delivery import DeliveryWorkflow
from workflows.delivery_types import DeliveryInput

MAX_CONCURRENT_STARTS = 64


def delivery_rows(
    config: DeliveryConfig,
    messages: Iterable[tuple[str, Person | None, str]],
) -> list[dict[str, Any]]:
    """The first state of each message: queued when one of its person's channels can be used
    here, no_channel (a clear end, nothing retried) otherwise. A directive's message and a
    dossier's or feedback's alike go by the person's channels in their order."""
    now = datetime.now(UTC)
    rows = []
    for key, person, link in messages:
        if person is None:
            continue
        usable = config.usable_channels(person.channels)
        rows.append(
            {
                "notification_key": key,
                "person_id": person.id,
                "state": (DeliveryState.QUEUED if usable else DeliveryState.NO_CHANNEL).value,
                "attempts": 0,
                "channel": None,
                "detail": "" if usable else f"no configured channel among {person.channels}",
                "link": link,
                "seq": 0,
                "updated_at": now,
            }
        )
    return rows


# What a delivery workflow starts from: (key, person, kind, channels, first sequence number).
Start = tuple[str, int, str, list[str], int]


def queued_start(config: DeliveryConfig, key: str, person: Person, kind: str) -> Start | None:
    """The start of a message its caller has just stored as queued (`delivery_rows`): what
    `start_deliveries` would read back for it. None when no channel of the person's is usable
    here, the message then stored as no_channel."""
    channels = config.usable_channels(person.channels)
    return (key, person.id, kind, channels, 0) if channels else None


async def start_deliveries(
    client: Client,
    config: DeliveryConfig,
    keys: list[str],
    engine: Engine,
    known: list[Start] | None = None,
) -> int:
    """Start the delivery workflow of every queued message among `keys`, and of the `known`
    ones (`queued_start`: messages the caller has just stored, not read back). One id per
    key; a running one is joined and a finished one never started again, so calling this
    after a crash, or twice, sends nothing twice."""
    rows = list(known or [])
    if keys:
        rows += await asyncio.to_thread(
            _messages, engine, config, keys, DeliveryState.QUEUED, Delivery.seq == 0
        )
    return await _start(client, config, rows)


async def start_again(
    client: Client, config: DeliveryConfig, keys: list[str], engine: Engine
) -> int:
    """Start a new delivery of every message among `keys` still in a digest, whose digest
    ended without it: its delivery workflow ended when it joined, so a new run of it starts
    (one for one message, however often this is called: a running one is joined), and its
    state writes go on from the stored ones. The outbox never sends one message twice on a
    channel whatever runs ask."""
    rows = await asyncio.to_thread(_messages, engine, config, keys, DeliveryState.IN_DIGEST)
    return await _start(client, config, rows, WorkflowIDReusePolicy.ALLOW_DUPLICATE)


async def _start(
    client: Client,
    config: DeliveryConfig,
    rows: list[Start],
    reuse: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
) -> int:
    """Start one delivery workflow per (key, person, kind, channels, first sequence number)."""
    gate = asyncio.Semaphore(MAX_CONCURRENT_STARTS)

    async def start(key: str, person_id: int, kind: str, channels: list[str], seq: int) -> None:
        async with gate:
            try:
                await client.start_workflow(
                    DeliveryWorkflow.run,
                    DeliveryInput(
                        notification_key=key,
                        person_id=person_id,
                        kind=kind,
                        channels=channels,
                        policy=config.policy,
                        task_queue=config.task_queue,
                        first_seq=seq,
                    ),
                    id=delivery_workflow_id(key),
                    task_queue=config.task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=reuse,
                )
            except WorkflowAlreadyStartedError:
                pass

    await asyncio.gather(*(start(*row) for row in rows))
    return len(rows)


def _messages(
    engine: Engine,
    config: DeliveryConfig,
    keys: list[str],
    state: DeliveryState,
    *conditions: ColumnElement[bool],
) -> list[Start]:
    """(key, person, kind, channels, seq) of each message among `keys` in `state`: what a
    delivery workflow starts from, the person's channels in their order that can be used."""
    with Session(engine) as session:
        return [
            (key, person_id or 0, kind, config.usable_channels(channels), seq)
            for key, person_id, kind, channels, seq in session.execute(
                select(
                    Delivery.notification_key,
                    Delivery.person_id,
                    Notification.kind,
                    Person.channels,
                    Delivery.seq,
                )
                .join(Notification, Notification.idempotency_key == Delivery.notification_key)
                .join(Person, Person.id == Delivery.person_id)
                .where(
                    Delivery.notification_key.in_(keys),
                    Delivery.state == state.value,
                    *conditions,
                )
            )
        ]
