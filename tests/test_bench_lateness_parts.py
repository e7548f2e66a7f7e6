"""The parts of a reminder's lateness read from its workflow's history (bench/lateness_parts.py)."""

from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    HistoryEvent,
    TimerFiredEventAttributes,
    TimerStartedEventAttributes,
)

from bench.lateness_parts import parts

T0 = datetime(2026, 12, 6, 19, 0, tzinfo=UTC)


def event(kind: EventType.ValueType, seconds: float, **attributes: object) -> HistoryEvent:
    e = HistoryEvent(event_type=kind, **attributes)  # type: ignore[arg-type]
    e.event_time.FromDatetime(T0 + timedelta(seconds=seconds))
    return e


def started(seconds: float, timer_id: str, duration: float) -> HistoryEvent:
    return event(
        EventType.EVENT_TYPE_TIMER_STARTED,
        seconds,
        timer_started_event_attributes=TimerStartedEventAttributes(
            timer_id=timer_id, start_to_fire_timeout=Duration(seconds=int(duration))
        ),
    )


def fired(seconds: float, timer_id: str) -> HistoryEvent:
    return event(
        EventType.EVENT_TYPE_TIMER_FIRED,
        seconds,
        timer_fired_event_attributes=TimerFiredEventAttributes(timer_id=timer_id),
    )


def task(kind: EventType.ValueType, seconds: float) -> HistoryEvent:
    return event(kind, seconds)


def history() -> list[HistoryEvent]:
    """A first task that started at 0 and completed at 0.4 s, sleeping 10 s to its instant (10 s)
    and setting a deadline timer two days away; the timer fires 5 ms after its fire time (10.4 s)
    and the worker starts the task it schedules 25 ms later."""
    return [
        task(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, 0.0),
        task(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 0.4),
        started(0.4, "1", 10),
        started(0.4, "2", 172_800),
        fired(10.405, "1"),
        task(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 10.405),
        task(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, 10.430),
    ]


def test_a_reminder_late_by_its_first_task_is_split_into_its_parts() -> None:
    due = (T0 + timedelta(seconds=10)).timestamp()
    found = parts(history(), due)
    assert found is not None
    assert round(found.set, 3) == 0.4
    assert round(found.fire, 3) == 0.005
    assert round(found.wake, 3) == 0.025
    assert found.started == (T0 + timedelta(seconds=10.43)).timestamp()


def test_a_timer_far_from_the_instant_is_not_the_reminder() -> None:
    # Due two days on: the deadline timer is the one that matches, and it never fired.
    due = (T0 + timedelta(days=2)).timestamp()
    assert parts(history(), due) is None


def test_no_fired_timer_no_parts() -> None:
    assert parts(history()[:4], (T0 + timedelta(seconds=10)).timestamp()) is None
