"""The typed messages that cross workflow boundaries. Standard library only: this module is
imported inside the workflow sandbox, by activities and by the API alike.

New fields go last with a default, so that running workflows keep replaying."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vocabulary.directives import (
    AssignmentState,
    AssignmentStatus,
    DirectivePolicy,
    DirectiveStatus,
    NotificationKind,
)
from vocabulary.roles import Role


@dataclass
class DirectiveCarry:
    """What a directive carries into its next run when its history grows long (continue-as-new):
    the plan it settled, its revision and status, and the assignments already closed."""

    plan: DirectivePlan
    revision: int
    status: DirectiveStatus
    closed: dict[str, str] = field(default_factory=dict)
    run: int = 1


@dataclass
class IssueDirectiveInput:
    directive_id: int
    communes: list[str]
    issued_at: datetime
    policy: DirectivePolicy
    deadline: datetime | None = None
    due_in_working_days: int | None = None
    # Set only by the directive itself when it continues as new: the fan-out is done.
    carried: DirectiveCarry | None = None
    # A plan's task: the co-ordinating units, told of it when it is issued, given no assignment.
    co_units: list[str] = field(default_factory=list)


@dataclass
class DirectivePlan:
    """What the directive settled once, in an activity: the working-day calendar is not replayed."""

    directive_id: int
    deadline: datetime
    acknowledge_by: datetime | None
    communes: list[str]


@dataclass
class StartAssignmentsInput:
    plan: DirectivePlan
    policy: DirectivePolicy
    issued_at: datetime
    task_queue: str


@dataclass
class AssignmentInput:
    directive_id: int
    commune_code: str
    deadline: datetime
    acknowledge_by: datetime | None
    policy: DirectivePolicy
    issued_at: datetime


@dataclass
class AcknowledgeInput:
    actor: str


@dataclass
class ReportInput:
    actor: str
    summary: str
    evidence: list[str] = field(default_factory=list)


@dataclass
class ReviewInput:
    actor: str
    accept: bool
    comment: str = ""


@dataclass
class ExtensionRequestInput:
    actor: str
    until: datetime
    reason: str = ""


@dataclass
class ExtensionDecisionInput:
    actor: str
    grant: bool
    until: datetime | None = None
    comment: str = ""


@dataclass
class AssignmentChange:
    """A directive's amendment or recall, relayed to one open assignment."""

    revision: int
    content_changed: bool = False
    deadline: datetime | None = None
    recalled: bool = False
    actor: str = ""


@dataclass
class AssignmentClosed:
    commune_code: str
    status: AssignmentStatus


@dataclass
class AmendDirectiveInput:
    actor: str
    title: str | None = None
    body: str | None = None
    deadline: datetime | None = None


@dataclass
class RecallDirectiveInput:
    actor: str
    reason: str = ""


@dataclass
class DirectiveRevision:
    directive_id: int
    revision: int
    status: DirectiveStatus
    content_changed: bool = False
    deadline: datetime | None = None


@dataclass
class RecordAmendmentInput:
    directive_id: int
    revision: int
    title: str | None = None
    body: str | None = None
    deadline: datetime | None = None


@dataclass
class RelayChangeInput:
    directive_id: int
    communes: list[str]
    change: AssignmentChange


@dataclass
class DirectiveStatusInput:
    directive_id: int
    status: DirectiveStatus


@dataclass
class AssignmentEvent:
    """One step of an assignment's timeline, written with the state it produced."""

    kind: str
    at: datetime
    actor: str = ""
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordAssignmentInput:
    state: AssignmentState
    event: AssignmentEvent
    summary: str | None = None
    evidence: list[str] | None = None
    review_comment: str | None = None


@dataclass
class RecordAssignmentsInput:
    """Several records of one assignment, oldest first, written in one transaction: the
    acknowledgements its callers wrote already, carried with the workflow's next write."""

    records: list[RecordAssignmentInput]


@dataclass
class NotifyInput:
    """Messages of one kind and step to the people of a role, for one or many communes.

    `step` makes the idempotency key: `notify:{directive}:{commune}:{kind}:{step}` plus the
    recipient, so a retried or replayed activity records each message once."""

    directive_id: int
    communes: list[str]
    kind: NotificationKind
    step: str
    to: Role = Role.COMMUNE_LEADER
    context: dict[str, str] = field(default_factory=dict)
    # Skip communes whose assignment the read model already shows closed: the directive hears
    # of a completion a moment after the assignment has recorded it.
    only_open: bool = False


@dataclass
class NotifyResult:
    recorded: int
    already_recorded: int


def assignment_input(start: StartAssignmentsInput, commune_code: str) -> AssignmentInput:
    """What one commune's assignment starts with: the fan-out and the API (starting an
    assignment an early answer reaches before the fan-out does) build it the same way."""
    return AssignmentInput(
        directive_id=start.plan.directive_id,
        commune_code=commune_code,
        deadline=start.plan.deadline,
        acknowledge_by=start.plan.acknowledge_by,
        policy=start.policy,
        issued_at=start.issued_at,
    )


@dataclass
class AssignmentJournal:
    """What an assignment workflow has asked the read model to write, in order (its `journal`
    query). The catch-up after a restore writes it again; the sequence-number guard and the
    unique keys keep whatever is already there, so nothing is doubled."""

    records: list[RecordAssignmentInput] = field(default_factory=list)
    notifications: list[NotifyInput] = field(default_factory=list)


@dataclass
class DirectiveJournal:
    """What a directive's current run has asked the read model to write (its `journal` query):
    the issue request (its plan is settled again from it, idempotently), amendments, final
    statuses and notices. A run continued as new starts a journal of its own."""

    request: IssueDirectiveInput
    amendments: list[RecordAmendmentInput] = field(default_factory=list)
    statuses: list[DirectiveStatusInput] = field(default_factory=list)
    notifications: list[NotifyInput] = field(default_factory=list)
