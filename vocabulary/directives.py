"""The words of directives and their assignments: statuses, timeliness, the notices a commune
receives, the reminder and escalation policy, and the workflow ids. Standard library only: imported
inside the workflow sandbox. New fields go last with a default, so running workflows keep
replaying."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from vocabulary.roles import Role


class AssignmentStatus(StrEnum):
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    REPORTED = "reported"
    RETURNED = "returned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


CLOSED_STATUSES = frozenset({AssignmentStatus.COMPLETED, AssignmentStatus.CANCELLED})


# Reminders and escalations chase an assignment until a report is in.
ANSWERED_STATUSES = frozenset(
    {AssignmentStatus.REPORTED, AssignmentStatus.COMPLETED, AssignmentStatus.CANCELLED}
)


class Timeliness(StrEnum):
    """The four buckets every Government Office progress report uses."""

    WITHIN_DEADLINE = "within_deadline"
    OVERDUE = "overdue"
    ON_TIME = "on_time"
    LATE = "late"


class NotificationKind(StrEnum):
    ISSUED = "issued"
    REMINDER = "reminder"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    AMENDED = "amended"
    RECALLED = "recalled"
    RETURNED = "returned"
    EXTENSION_DECIDED = "extension_decided"
    # A plan's task told to a unit that co-ordinates it: no assignment, a contribution welcome.
    COORDINATION = "coordination"


class DirectiveStatus(StrEnum):
    ISSUING = "issuing"
    ACTIVE = "active"
    CLOSED = "closed"
    RECALLED = "recalled"


@dataclass
class EscalationStep:
    after_seconds: int
    to: Role


@dataclass
class DirectivePolicy:
    """When to remind and whom to escalate to; the same for every commune of a directive."""

    # Positive: before the deadline; negative: after it.
    reminder_offsets_seconds: list[int] = field(default_factory=list)
    escalation: list[EscalationStep] = field(default_factory=list)
    acknowledge_within_seconds: int | None = None


@dataclass
class AssignmentState:
    directive_id: int
    commune_code: str
    status: AssignmentStatus
    timeliness: Timeliness
    deadline: datetime
    original_deadline: datetime
    revision: int = 1
    acknowledged_revision: int = 0
    acknowledged_at: datetime | None = None
    reported_at: datetime | None = None
    completed_at: datetime | None = None
    escalation_level: int = 0
    extension_requested_until: datetime | None = None
    seq: int = 0


def directive_workflow_id(directive_id: int) -> str:
    return f"directive-{directive_id}"


def assignment_workflow_id(directive_id: int, commune_code: str) -> str:
    return f"directive-{directive_id}/commune-{commune_code}"
