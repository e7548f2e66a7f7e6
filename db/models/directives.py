"""Directives, their assignments to communes, the assignments' timelines and the evidence
files communes upload, with how a directive's policy and an assignment's state are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow
from vocabulary.directives import AssignmentState, DirectivePolicy, EscalationStep
from vocabulary.events import AssignmentEventKind
from vocabulary.roles import Role

# The timeline events an assignment's row counts, by kind, and the column counting them: the
# write that records such an event adds one, in its transaction, so the roll-up reads the
# counts with the row instead of grouping the timeline (a third of the roll-up with medians
# on a million assignments went to that grouping and its join).
COUNTED_EVENTS: dict[str, str] = {
    AssignmentEventKind.RETURNED.value: "returns",
    AssignmentEventKind.EXTENSION_REQUESTED.value: "extension_requests",
    AssignmentEventKind.EXTENSION_GRANTED.value: "extensions_granted",
}


class Directive(Base):
    __tablename__ = "directives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # SHA-256 of the request that used the key: the same key with another request is refused.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The last revision that changed the text: amendments after it changed only the deadline.
    content_revision: Mapped[int] = mapped_column(Integer, default=1)
    issued_at: Mapped[datetime] = mapped_column()
    issued_by: Mapped[str] = mapped_column(String(200))
    # Computed once by the plan activity when given in working days.
    deadline: Mapped[datetime | None] = mapped_column()
    due_in_working_days: Mapped[int | None] = mapped_column(Integer)
    acknowledge_by: Mapped[datetime | None] = mapped_column()
    communes: Mapped[list[str]] = mapped_column(JSON)
    # A plan's task: its co-ordinating units, told of it without an assignment. None otherwise.
    co_units: Mapped[list[str] | None] = mapped_column(JSON)
    # DirectivePolicy as policy_to_json writes it.
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("directive_id", "commune_code"),
        Index("ix_assignments_commune_status", "commune_code", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"))
    # The recipient: a commune's code, or an agency's (`units`) for a plan's task.
    commune_code: Mapped[str] = mapped_column(String(8))
    # The directive's issue, copied when the assignment is recorded (it never changes): the
    # roll-up's medians measure from it without a join to the directives.
    issued_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    timeliness: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[datetime] = mapped_column()
    original_deadline: Mapped[datetime] = mapped_column()
    acknowledge_by: Mapped[datetime | None] = mapped_column()
    revision: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_revision: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    reported_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    extension_requested_until: Mapped[datetime | None] = mapped_column()
    report_summary: Mapped[str | None] = mapped_column(Text)
    report_evidence: Mapped[list[str] | None] = mapped_column(JSON)
    review_comment: Mapped[str | None] = mapped_column(Text)
    # How many of its timeline's events of each kind COUNTED_EVENTS names it has.
    returns: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    extension_requests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    extensions_granted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The workflow's state sequence: a write older than what is stored is ignored, so
    # activities may land in any order and any number of times.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def policy_to_json(policy: DirectivePolicy) -> dict[str, Any]:
    """How a directive's policy is stored (seconds; roles by name)."""
    return {
        "reminder_offsets_seconds": list(policy.reminder_offsets_seconds),
        "escalation": [
            {"after_seconds": step.after_seconds, "to": step.to.value} for step in policy.escalation
        ],
        "acknowledge_within_seconds": policy.acknowledge_within_seconds,
    }


def policy_from_json(stored: dict[str, Any]) -> DirectivePolicy:
    return DirectivePolicy(
        reminder_offsets_seconds=list(stored["reminder_offsets_seconds"]),
        escalation=[
            EscalationStep(after_seconds=step["after_seconds"], to=Role(step["to"]))
            for step in stored["escalation"]
        ],
        acknowledge_within_seconds=stored.get("acknowledge_within_seconds"),
    )


def assignment_columns(state: AssignmentState) -> dict[str, Any]:
    """The columns of an assignment row that its workflow's state sets."""
    return {
        "status": state.status.value,
        "timeliness": state.timeliness.value,
        "deadline": state.deadline,
        "original_deadline": state.original_deadline,
        "revision": state.revision,
        "acknowledged_revision": state.acknowledged_revision,
        "acknowledged_at": state.acknowledged_at,
        "reported_at": state.reported_at,
        "completed_at": state.completed_at,
        "escalation_level": state.escalation_level,
        "extension_requested_until": state.extension_requested_until,
        "seq": state.seq,
    }


class AssignmentEventRow(Base):
    __tablename__ = "assignment_events"
    __table_args__ = (UniqueConstraint("directive_id", "commune_code", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"))
    commune_code: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EvidenceFile(Base):
    """A file a commune uploaded as evidence for an assignment, stored under the data
    directory by a random name; served back only to the office and that commune."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"))
    # The commune's or the agency's code, as on its assignment.
    commune_code: Mapped[str] = mapped_column(String(8))
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
