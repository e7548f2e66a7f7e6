"""The read-model activities run at least once: every one of them, called again with the same
input, in any order, leaves the tables exactly as one call did. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from activities.rendering import Renderer
from db.models import Assignment, AssignmentEventRow, Directive, Notification
from tests.factories import store_directive
from vocabulary.directives import (
    AssignmentState,
    AssignmentStatus,
    DirectivePolicy,
    NotificationKind,
    Timeliness,
)
from vocabulary.roles import Role
from workflows.types import (
    AssignmentEvent,
    NotifyInput,
    RecordAmendmentInput,
    RecordAssignmentInput,
)

COMMUNES = ["24121", "24133", "24175"]
ISSUED_AT = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)  # Friday before Tết, 09:00 in Vietnam
POLICY = DirectivePolicy(acknowledge_within_seconds=86400)


def table(engine: Engine, directive_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the read model holds for one directive, minus write timestamps."""
    with Session(engine) as session:
        assignments = session.scalars(
            select(Assignment).where(Assignment.directive_id == directive_id)
        )
        events = session.scalars(
            select(AssignmentEventRow).where(AssignmentEventRow.directive_id == directive_id)
        )
        notes = session.scalars(
            select(Notification).where(Notification.directive_id == directive_id)
        )
        return {
            "assignments": sorted(
                (
                    a.commune_code,
                    a.status,
                    a.timeliness,
                    a.deadline,
                    a.original_deadline,
                    a.acknowledge_by,
                    a.revision,
                    a.acknowledged_revision,
                    a.acknowledged_at,
                    a.reported_at,
                    a.completed_at,
                    a.escalation_level,
                    a.report_summary,
                    tuple(a.report_evidence or ()),
                    a.review_comment,
                    a.seq,
                )
                for a in assignments
            ),
            "events": sorted(
                (e.commune_code, e.seq, e.kind, e.at, e.actor, tuple(sorted(e.detail.items())))
                for e in events
            ),
            "notifications": sorted(
                (n.idempotency_key, n.recipient, n.channel, n.subject, n.body, n.status)
                for n in notes
            ),
        }


def test_the_plan_is_settled_once_and_a_second_call_returns_it(engine: Engine) -> None:
    request = store_directive(engine, COMMUNES, ISSUED_AT, POLICY, due_in_working_days=5)
    records = RecordActivities(engine)
    first = ActivityEnvironment().run(records.plan_directive, request)
    # Five working days after Friday 13 Feb 2026 skip Tết (16–20 Feb): Friday 27 Feb, 17:00.
    assert first.deadline == datetime(2026, 2, 27, 10, 0, tzinfo=UTC)
    assert first.acknowledge_by == ISSUED_AT + timedelta(days=1)
    before = table(engine, request.directive_id)
    # A retry carries the same input; even a different one cannot move what was settled.
    again = ActivityEnvironment().run(
        records.plan_directive, dataclasses.replace(request, due_in_working_days=9)
    )
    assert again == first
    assert table(engine, request.directive_id) == before
    assert len(before["assignments"]) == 3
    with Session(engine) as session:
        directive = session.get(Directive, request.directive_id)
        assert directive is not None and directive.status == "active"


def test_assignment_states_applied_twice_or_out_of_order_leave_the_same_tables(
    engine: Engine,
) -> None:
    once, twice = (
        store_directive(engine, COMMUNES, ISSUED_AT, POLICY, deadline=ISSUED_AT + timedelta(days=5))
        for _ in range(2)
    )
    records = RecordActivities(engine)
    for request in (once, twice):
        ActivityEnvironment().run(records.plan_directive, request)

    def history(directive_id: int) -> list[RecordAssignmentInput]:
        deadline = ISSUED_AT + timedelta(days=5)
        state = AssignmentState(
            directive_id=directive_id,
            commune_code="24133",
            status=AssignmentStatus.NOTIFIED,
            timeliness=Timeliness.WITHIN_DEADLINE,
            deadline=deadline,
            original_deadline=deadline,
        )
        steps = []
        for seq, (status, hours) in enumerate(
            [
                (AssignmentStatus.ACKNOWLEDGED, 2),
                (AssignmentStatus.REPORTED, 30),
                (AssignmentStatus.RETURNED, 40),
                (AssignmentStatus.REPORTED, 50),
                (AssignmentStatus.COMPLETED, 60),
            ],
            start=1,
        ):
            at = ISSUED_AT + timedelta(hours=hours)
            state = dataclasses.replace(state, status=status, seq=seq)
            if status == AssignmentStatus.ACKNOWLEDGED:
                state = dataclasses.replace(state, acknowledged_at=at, acknowledged_revision=1)
            if status == AssignmentStatus.REPORTED:
                state = dataclasses.replace(state, reported_at=at)
            if status == AssignmentStatus.COMPLETED:
                state = dataclasses.replace(state, completed_at=at, timeliness=Timeliness.ON_TIME)
            steps.append(
                RecordAssignmentInput(
                    state=state,
                    event=AssignmentEvent(kind=status.value, at=at, actor="test"),
                    summary=f"báo cáo {seq}" if status == AssignmentStatus.REPORTED else None,
                    evidence=["bc.pdf"] if status == AssignmentStatus.REPORTED else None,
                    review_comment="thiếu số liệu" if status == AssignmentStatus.RETURNED else None,
                )
            )
        return steps

    for step in history(once.directive_id):
        ActivityEnvironment().run(records.record_assignment, step)
    # Every write twice, the second pass newest first: what a crashed worker and a retry do.
    steps = history(twice.directive_id)
    for step in steps + list(reversed(steps)):
        ActivityEnvironment().run(records.record_assignment, step)

    expected, actual = table(engine, once.directive_id), table(engine, twice.directive_id)
    assert actual == expected
    final = next(a for a in actual["assignments"] if a[0] == "24133")
    assert final[1:3] == ("completed", "on_time")
    assert final[12:16] == ("báo cáo 4", ("bc.pdf",), "thiếu số liệu", 5)
    assert [e[2] for e in actual["events"]] == [
        "acknowledged", "reported", "returned", "reported", "completed",
    ]  # fmt: skip


async def test_notifications_are_recorded_once_per_key(engine: Engine) -> None:
    request = store_directive(
        engine, COMMUNES, ISSUED_AT, POLICY, deadline=ISSUED_AT + timedelta(days=5)
    )
    ActivityEnvironment().run(RecordActivities(engine).plan_directive, request)
    notifications = NotificationActivities(engine, Renderer(), "http://axis.test")
    issued = NotifyInput(
        directive_id=request.directive_id,
        communes=COMMUNES,
        kind=NotificationKind.ISSUED,
        step="rev-1",
    )
    escalated = NotifyInput(
        directive_id=request.directive_id,
        communes=["24133"],
        kind=NotificationKind.ESCALATION,
        step="level-2",
        to=Role.STEERING_OFFICE,
        context={"level": "2", "to": "steering_office"},
    )
    first = await ActivityEnvironment().run(notifications.record_notifications, issued)
    assert (first.recorded, first.already_recorded) == (3, 0)
    await ActivityEnvironment().run(notifications.record_notifications, escalated)
    before = table(engine, request.directive_id)
    second = await ActivityEnvironment().run(notifications.record_notifications, issued)
    assert (second.recorded, second.already_recorded) == (0, 3)
    await ActivityEnvironment().run(notifications.record_notifications, escalated)
    assert table(engine, request.directive_id) == before
    recipients = [(n[0], n[1], n[2]) for n in before["notifications"]]
    assert recipients == [
        (f"notify:{request.directive_id}:24121:issued:rev-1:{_person(engine, 'lanh-dao-24121')}",
         "lanh-dao-24121@example.invalid", "zalo"),
        (f"notify:{request.directive_id}:24133:escalation:level-2:{_person(engine, 'van-phong')}",
         "van-phong@example.invalid", "email"),
        (f"notify:{request.directive_id}:24133:issued:rev-1:{_person(engine, 'lanh-dao-24133')}",
         "lanh-dao-24133@example.invalid", "zalo"),
        (f"notify:{request.directive_id}:24175:issued:rev-1:{_person(engine, 'lanh-dao-24175')}",
         "lanh-dao-24175@example.invalid", "zalo"),
    ]  # fmt: skip


def test_an_amendment_replayed_returns_its_stored_outcome(engine: Engine) -> None:
    request = store_directive(
        engine, COMMUNES, ISSUED_AT, POLICY, deadline=ISSUED_AT + timedelta(days=5)
    )
    records = RecordActivities(engine)
    ActivityEnvironment().run(records.plan_directive, request)
    amendment = RecordAmendmentInput(
        directive_id=request.directive_id, revision=2, body="Nội dung đã sửa"
    )
    first = ActivityEnvironment().run(records.record_amendment, amendment)
    again = ActivityEnvironment().run(records.record_amendment, amendment)
    assert (first.revision, first.content_changed) == (2, True)
    assert again == first
    deadline_only = RecordAmendmentInput(
        directive_id=request.directive_id, revision=3, deadline=ISSUED_AT + timedelta(days=9)
    )
    third = ActivityEnvironment().run(records.record_amendment, deadline_only)
    assert (third.revision, third.content_changed, third.deadline) == (
        3, False, ISSUED_AT + timedelta(days=9),
    )  # fmt: skip


def _person(engine: Engine, local_part: str) -> int:
    from db.models import Person

    with Session(engine) as session:
        person_id = session.scalar(
            select(Person.id).where(Person.email == f"{local_part}@example.invalid")
        )
    assert person_id is not None
    return person_id


async def test_an_amendment_notice_tells_a_commune_the_later_extension_it_keeps(
    engine: Engine,
) -> None:
    """The commune's workflow keeps a granted extension that is later than the amended date;
    its notice must say that date, not the directive's (the other communes get the amended
    one). The sms template carries the date on one line, so the whole body is compared."""
    request = store_directive(
        engine, COMMUNES, ISSUED_AT, POLICY, deadline=ISSUED_AT + timedelta(days=5)
    )
    ActivityEnvironment().run(RecordActivities(engine).plan_directive, request)
    extended, amended = ISSUED_AT + timedelta(days=20), ISSUED_AT + timedelta(days=10)
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                AssignmentEventRow(
                    directive_id=request.directive_id, commune_code="24133", seq=1,
                    kind="extension_requested", at=ISSUED_AT,
                    detail={"until": (ISSUED_AT + timedelta(days=12)).isoformat()},
                ),
                AssignmentEventRow(
                    directive_id=request.directive_id, commune_code="24133", seq=2,
                    kind="extension_granted", at=ISSUED_AT,
                    detail={"granted": "true", "until": extended.isoformat()},
                ),
                AssignmentEventRow(
                    directive_id=request.directive_id, commune_code="24175", seq=1,
                    kind="extension_granted", at=ISSUED_AT,
                    detail={"granted": "true", "until": (amended - timedelta(days=1)).isoformat()},
                ),
            ]
        )  # fmt: skip
        directive = session.get(Directive, request.directive_id)
        assert directive is not None
        directive.deadline = amended
    notifications = NotificationActivities(engine, Renderer(), "http://axis.test")
    notice = NotifyInput(
        directive_id=request.directive_id,
        communes=COMMUNES,
        kind=NotificationKind.AMENDED,
        step="rev-2",
        context={"content_changed": "false"},
    )
    await ActivityEnvironment().run(notifications.record_notifications, notice)
    with Session(engine) as session:
        bodies = dict(
            session.execute(
                select(Notification.commune_code, Notification.body).where(
                    Notification.directive_id == request.directive_id
                )
            ).all()
        )
    assert sorted(bodies) == COMMUNES
    # 24133 keeps its extension (5 March, 09:00 in Vietnam); 24175's extension ends before the
    # amended date, so it and 24121 are told the amended date (23 February).
    told = {
        code: [d for d in ("05/03/2026", "23/02/2026") if d in body]
        for code, body in bodies.items()
    }
    assert told == {"24121": ["23/02/2026"], "24133": ["05/03/2026"], "24175": ["23/02/2026"]}
