"""Activities that write the read model. Each is idempotent: the directive's plan is settled
once, an assignment's state carries the workflow's sequence number and an older or repeated
write changes nothing, and every event row has a unique business key."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, Table, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.changes import append_changes
from db.models import Assignment, AssignmentEventRow, Directive, assignment_columns, utcnow
from db.models.directives import COUNTED_EVENTS
from db.upsert import insert_ignoring_duplicates
from vocabulary.calendar import working_day_deadline
from vocabulary.directives import AssignmentStatus, DirectiveStatus, Timeliness
from vocabulary.events import AssignmentEventKind
from workflows import activity_names
from workflows.types import (
    DirectivePlan,
    DirectiveRevision,
    DirectiveStatusInput,
    IssueDirectiveInput,
    RecordAmendmentInput,
    RecordAssignmentInput,
    RecordAssignmentsInput,
)


class RecordActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=activity_names.PLAN_DIRECTIVE)
    def plan_directive(self, request: IssueDirectiveInput) -> DirectivePlan:
        """Settle the directive's deadline (working days on the Vietnamese calendar) and record
        one assignment per commune. A second call returns what the first one stored."""
        with Session(self._engine) as session, session.begin():
            directive = session.get(Directive, request.directive_id, with_for_update=True)
            if directive is None:
                raise ApplicationError(
                    f"directive {request.directive_id} does not exist", non_retryable=True
                )
            if directive.status == DirectiveStatus.ISSUING:
                # Settled here, once: a retry or a replay reads what was stored.
                if directive.deadline is None:
                    if request.due_in_working_days is None:
                        raise ApplicationError("a directive needs a deadline", non_retryable=True)
                    directive.deadline = working_day_deadline(
                        request.issued_at, request.due_in_working_days
                    )
                within = request.policy.acknowledge_within_seconds
                directive.acknowledge_by = (
                    request.issued_at + timedelta(seconds=within) if within else None
                )
                directive.status = DirectiveStatus.ACTIVE
                directive.updated_at = utcnow()
                issued_now = True
            else:
                issued_now = False
            if directive.deadline is None:
                raise ApplicationError("a directive needs a deadline", non_retryable=True)
            deadline, acknowledge_by = directive.deadline, directive.acknowledge_by
            rows = [
                {
                    "directive_id": request.directive_id,
                    "commune_code": code,
                    "issued_at": directive.issued_at,
                    "status": AssignmentStatus.NOTIFIED.value,
                    "timeliness": Timeliness.WITHIN_DEADLINE.value,
                    "deadline": deadline,
                    "original_deadline": deadline,
                    "acknowledge_by": acknowledge_by,
                    "revision": 1,
                    "acknowledged_revision": 0,
                    "escalation_level": 0,
                    "seq": 0,
                    "updated_at": utcnow(),
                }
                for code in request.communes
            ]
            if rows:
                session.execute(
                    insert_ignoring_duplicates(
                        Assignment.__table__,  # type: ignore[arg-type]
                        self._engine.dialect.name,
                        rows,
                    )
                )
            if issued_now:
                append_changes(
                    session,
                    [
                        # The directive first: a subscriber hears of it before its assignments.
                        {
                            "entity": "directive",
                            "directive_id": request.directive_id,
                            "commune_code": "",
                            "kind": "issued",
                            "detail": {
                                "status": DirectiveStatus.ACTIVE.value,
                                "revision": directive.revision,
                                "deadline": deadline.isoformat(),
                                "communes": len(request.communes),
                            },
                            "at": utcnow(),
                        },
                        *(
                            {
                                "entity": "assignment",
                                "directive_id": request.directive_id,
                                "commune_code": code,
                                "kind": AssignmentEventKind.ISSUED.value,
                                "detail": {"seq": 0, "status": AssignmentStatus.NOTIFIED.value},
                                "at": utcnow(),
                            }
                            for code in request.communes
                        ),
                    ],
                )
        return DirectivePlan(
            directive_id=request.directive_id,
            deadline=deadline,
            acknowledge_by=acknowledge_by,
            communes=list(request.communes),
        )

    @activity.defn(name=activity_names.RECORD_ASSIGNMENT)
    def record_assignment(self, request: RecordAssignmentInput) -> None:
        """Write one assignment state and its timeline event (`write_assignment_record`)."""
        with Session(self._engine) as session, session.begin():
            write_assignment_record(session, request)

    @activity.defn(name=activity_names.RECORD_ASSIGNMENTS)
    def record_assignments(self, request: RecordAssignmentsInput) -> None:
        """Write several records of one assignment in one transaction, oldest first."""
        with Session(self._engine) as session, session.begin():
            for record in request.records:
                write_assignment_record(session, record)

    @activity.defn(name=activity_names.RECORD_AMENDMENT)
    def record_amendment(self, request: RecordAmendmentInput) -> DirectiveRevision:
        """Store a directive's new text or deadline as revision N. Replaying revision N returns
        the stored outcome instead of applying it again."""
        with Session(self._engine) as session, session.begin():
            directive = session.get(Directive, request.directive_id, with_for_update=True)
            if directive is None:
                raise ApplicationError(
                    f"directive {request.directive_id} does not exist", non_retryable=True
                )
            if directive.revision < request.revision:
                changed = (request.title is not None and request.title != directive.title) or (
                    request.body is not None and request.body != directive.body
                )
                if request.title is not None:
                    directive.title = request.title
                if request.body is not None:
                    directive.body = request.body
                if request.deadline is not None:
                    directive.deadline = request.deadline
                directive.revision = request.revision
                if changed:
                    directive.content_revision = request.revision
                directive.updated_at = utcnow()
                append_changes(
                    session,
                    [
                        {
                            "entity": "directive",
                            "directive_id": directive.id,
                            "commune_code": "",
                            "kind": "amended",
                            "detail": {
                                "revision": request.revision,
                                "content_changed": changed,
                                "deadline": (
                                    directive.deadline.isoformat() if directive.deadline else None
                                ),
                            },
                            "at": utcnow(),
                        }
                    ],
                )
            return DirectiveRevision(
                directive_id=directive.id,
                revision=directive.revision,
                status=DirectiveStatus(directive.status),
                content_changed=directive.content_revision == request.revision,
                deadline=directive.deadline,
            )

    @activity.defn(name=activity_names.SET_DIRECTIVE_STATUS)
    def set_directive_status(self, request: DirectiveStatusInput) -> None:
        """Move a directive to a final status; setting the same status again changes nothing."""
        with Session(self._engine) as session, session.begin():
            moved = session.execute(
                update(Directive)
                .where(
                    Directive.id == request.directive_id,
                    Directive.status != request.status.value,
                )
                .values(status=request.status.value, updated_at=utcnow())
            )
            if moved.rowcount:  # type: ignore[attr-defined]
                # The feed hears of a directive's end once: setting it again moves nothing.
                append_changes(
                    session,
                    [
                        {
                            "entity": "directive",
                            "directive_id": request.directive_id,
                            "commune_code": "",
                            "kind": request.status.value,
                            "detail": {"status": request.status.value},
                            "at": utcnow(),
                        }
                    ],
                )


ASSIGNMENTS: Table = Assignment.__table__  # type: ignore[assignment]


def write_assignment_record(session: Session, request: RecordAssignmentInput) -> None:
    """Write one assignment state and its timeline event, in the caller's transaction. The
    state is applied only when its sequence number is newer than the stored one; the event is
    keyed by (directive, commune, seq), and the row's count of its kind (COUNTED_EVENTS) grows
    with the event stored. Writing it twice, or out of order, changes nothing: the workflow's
    activity and the API (an acknowledgement's answer) both write the same record."""
    state = request.state
    values = {**assignment_columns(state), "updated_at": utcnow()}
    if request.summary is not None:
        values["report_summary"] = request.summary
        values["report_evidence"] = list(request.evidence or [])
    if request.review_comment is not None:
        values["review_comment"] = request.review_comment
    event = {
        "directive_id": state.directive_id,
        "commune_code": state.commune_code,
        "seq": state.seq,
        "kind": request.event.kind,
        "at": request.event.at,
        "actor": request.event.actor,
        "detail": dict(request.event.detail),
    }
    # Core statements on the table: the ORM's update-by-criteria would also look for loaded
    # rows to bring up to date, and the callers read the row afresh, never from the session.
    rows = ASSIGNMENTS.c
    applied = session.execute(
        update(ASSIGNMENTS)
        .where(
            rows.directive_id == state.directive_id,
            rows.commune_code == state.commune_code,
            rows.seq < state.seq,
        )
        .values(values)
    )
    if applied.rowcount:  # type: ignore[attr-defined]
        # The feed hears of a state once, in the transaction that stored it.
        append_changes(
            session,
            [
                {
                    "entity": "assignment",
                    "directive_id": state.directive_id,
                    "commune_code": state.commune_code,
                    "kind": request.event.kind,
                    "detail": {
                        "seq": state.seq,
                        "status": state.status.value,
                        "timeliness": state.timeliness.value,
                    },
                    "at": utcnow(),
                }
            ],
        )
    inserted = session.execute(
        insert_ignoring_duplicates(
            AssignmentEventRow.__table__,  # type: ignore[arg-type]
            session.get_bind().dialect.name,
            [event],
        ).returning(AssignmentEventRow.id)
    ).first()
    counted = COUNTED_EVENTS.get(request.event.kind)
    if counted is not None and inserted is not None:
        # The row counts the event once, in the transaction that stored it: a repeated write
        # inserts no event (its key is taken), returns no id and adds nothing. (Not the
        # rowcount: this INSERT's is -1 on PostgreSQL, whether the row was stored or not.)
        column = rows[counted]
        session.execute(
            update(ASSIGNMENTS)
            .where(
                rows.directive_id == state.directive_id,
                rows.commune_code == state.commune_code,
            )
            .values({column: column + 1})
        )
