"""A message recorded now starts its delivery from what was just stored, without reading it
back; a repeated record reads the stored state and starts again only what is still queued
(the engine joins or refuses a delivery already started)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.delivery import delivery_config
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from config import Settings
from db.models import Delivery, Person
from tests.factories import store_directive
from vocabulary.delivery import delivery_workflow_id
from vocabulary.directives import DirectivePolicy, NotificationKind
from workflows.delivery_types import DeliveryInput
from workflows.types import NotifyInput

COMMUNE = "24121"
ISSUED_AT = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)


class Starts:
    """The client's start_workflow, kept: what would have been started, and with what."""

    def __init__(self) -> None:
        self.started: list[tuple[str, DeliveryInput]] = []

    async def start_workflow(self, _run: Any, argument: DeliveryInput, **options: Any) -> None:
        self.started.append((options["id"], argument))


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL the engine runs meanwhile; the engine is the session's, so it stops listening."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_a_reminder_starts_its_delivery_without_reading_the_message_back(
    engine: Engine, tmp_path: Path
) -> None:
    request = store_directive(
        engine, [COMMUNE], ISSUED_AT, DirectivePolicy(), deadline=ISSUED_AT + timedelta(days=5)
    )
    ActivityEnvironment().run(RecordActivities(engine).plan_directive, request)
    # Email is the one channel configured here; the leader prefers zalo, then sms, then email.
    config = delivery_config(
        Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=2525, link_keys="k"),
        "messages",
    )
    client = Starts()
    activities = NotificationActivities(
        engine, Renderer(), "http://axis.test", cast(Client, client), config
    )
    reminder = NotifyInput(
        directive_id=request.directive_id,
        communes=[COMMUNE],
        kind=NotificationKind.REMINDER,
        step=f"before-{uuid.uuid4().hex[:6]}",
    )
    with statements(engine) as seen:
        first = await ActivityEnvironment().run(activities.record_notifications, reminder)
        first_reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
        seen.clear()
        again = await ActivityEnvironment().run(activities.record_notifications, reminder)
        again_reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]

    with Session(engine) as session:
        leader = session.scalar(
            select(Person.id).where(Person.email == f"lanh-dao-{COMMUNE}@example.invalid")
        )
        key = f"notify:{request.directive_id}:{COMMUNE}:reminder:{reminder.step}:{leader}"
        state = session.scalar(select(Delivery.state).where(Delivery.notification_key == key))
    assert leader is not None
    assert (first.recorded, first.already_recorded) == (1, 0)
    assert (again.recorded, again.already_recorded) == (0, 1)
    assert state == "queued"
    expected = DeliveryInput(
        notification_key=key,
        person_id=leader,
        kind="reminder",
        channels=["email"],
        policy=config.policy,
        task_queue="messages",
        first_seq=0,
    )
    # Started once from what was stored, and once more by the repeat, from the stored state.
    assert client.started == [(delivery_workflow_id(key), expected)] * 2
    assert not [s for s in first_reads if "FROM deliveries" in s]
    assert len([s for s in again_reads if "FROM deliveries" in s]) == 1
