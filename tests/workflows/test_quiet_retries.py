"""Retries that fall due in quiet hours, on the time-skipping server with the product's worker
and activities, against an HTTP server answering as eSMS does: a message sent at 20:50 (Vietnam
time) and answered "come back in 30 minutes" goes again when quiet hours end, not at 21:20; an
escalation is never held and goes again at 21:20. A delivery that retried into quiet hours on
the code before this change still replays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from db.engine import make_engine
from tests.conftest import running_worker
from tests.gateways import Gateway, http_gateway
from tests.workflows.test_delivery import communes, configure, delivered, record
from vocabulary.calendar import VIETNAM
from vocabulary.delivery import delivery_workflow_id
from vocabulary.directives import NotificationKind
from worker import DELIVERY_WORKFLOWS
from workflows import delivery_names
from workflows.delivery_types import SendInput

QUIET_HOURS = "21:00-07:00"
# The provider's answer to the first send: a temporary failure, "come back in 30 minutes".
COME_BACK_IN_30_MINUTES = (429, {"Retry-After": "1800"}, {"error": "too many requests"})
# A reminder's delivery recorded on the code before retries waited for quiet hours: sent at
# 20:50, answered 429 with Retry-After 1800, sent again at 21:20.
BEFORE_THE_CHANGE = Path(__file__).with_name("quiet_retry_before_the_change.json")


@pytest.fixture(scope="module")
def engine(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        yield server


async def ten_to_nine_tomorrow(env: WorkflowEnvironment) -> datetime:
    """20:50 in Vietnam on the day after the server's today: ten minutes before quiet hours."""
    now = (await env.get_current_time()).astimezone(VIETNAM)
    return now.replace(hour=20, minute=50, second=0, microsecond=0) + timedelta(days=1)


async def sends(env: WorkflowEnvironment, key: str) -> list[SendInput]:
    """Each send the message's delivery asked for, with the workflow's clock when it asked."""
    history = await env.client.get_workflow_handle(delivery_workflow_id(key)).fetch_history()
    asked: list[SendInput] = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        attributes = event.activity_task_scheduled_event_attributes
        if attributes.activity_type.name == delivery_names.SEND_MESSAGE:
            (request,) = await env.client.data_converter.decode(
                attributes.input.payloads, [SendInput]
            )
            asked.append(request)
    return asked


def local(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M")


async def deliver_at_ten_to_nine(
    env: WorkflowEnvironment,
    engine: Engine,
    gateway: Gateway,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
    kind: NotificationKind,
    commune: int,
) -> tuple[datetime, str]:
    """One message of `kind` to one commune's leader, recorded at 20:50 and answered 429 with
    Retry-After 30 minutes on its first send; returns the moment and its delivery's key once
    the delivery has ended (the server's clock then is past the next morning)."""
    (code,) = communes(engine, commune, 1)
    gateway.scripted.append(COME_BACK_IN_30_MINUTES)
    config = configure(tmp_path, task_queue, gateway=gateway, quiet_hours=QUIET_HOURS)
    evening = await ten_to_nine_tomorrow(env)
    await env.sleep(evening - await env.get_current_time())
    async with running_worker(env.client, engine, task_queue, executor, delivery=config):
        (key,) = await record(env, engine, config, [code], kind=kind)
        (result,) = await delivered(env, [key], within=timedelta(hours=12))
    assert (result.state.value, result.channel, result.attempts) == ("sent", "sms", 2)
    # The one message, asked twice with one key: the 429, then the send that was accepted.
    sent = gateway.sent("SendMultipleMessage_V4_post_json/")
    assert len(sent) == 2
    assert len({body["RequestId"] for _, body in sent}) == 1
    return evening, key


async def test_a_reminder_told_to_come_back_in_quiet_hours_goes_when_they_end(
    time_env: WorkflowEnvironment,
    engine: Engine,
    gateway: Gateway,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    evening, key = await deliver_at_ten_to_nine(
        time_env, engine, gateway, task_queue, executor, tmp_path, NotificationKind.REMINDER, 0
    )
    first, second = await sends(time_env, key)
    seven_next_morning = evening.replace(hour=7, minute=0) + timedelta(days=1)
    assert local(first.at) == local(evening)
    # Exactly when quiet hours end, not at 21:20.
    assert local(second.at) == local(seven_next_morning)


async def test_an_escalation_told_to_come_back_in_quiet_hours_goes_then(
    time_env: WorkflowEnvironment,
    engine: Engine,
    gateway: Gateway,
    task_queue: str,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    evening, key = await deliver_at_ten_to_nine(
        time_env, engine, gateway, task_queue, executor, tmp_path, NotificationKind.ESCALATION, 1
    )
    first, second = await sends(time_env, key)
    assert local(first.at) == local(evening)
    assert local(second.at) == local(evening + timedelta(minutes=30))


async def test_a_delivery_that_retried_into_quiet_hours_before_the_change_replays() -> None:
    history = WorkflowHistory.from_json("quiet-retry", BEFORE_THE_CHANGE.read_text())
    result = await Replayer(workflows=DELIVERY_WORKFLOWS).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is None
