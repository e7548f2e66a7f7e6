"""The typed messages of the citizen-facing processes: administrative-procedure dossiers and
community feedback. Standard library only: imported inside the workflow sandbox, by activities
and by the API alike. New fields go last with a default, so running workflows keep replaying."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vocabulary.cases import (
    CaseNotificationKind,
    CasePolicy,
    DossierStatus,
    DossierTimeliness,
    FeedbackStatus,
    Level,
    LimitUnit,
)
from vocabulary.roles import Role


@dataclass
class DossierInput:
    dossier_id: int
    procedure_code: str
    commune_code: str
    received_at: datetime
    due_at: datetime
    unit: LimitUnit
    policy: CasePolicy


@dataclass
class DossierState:
    dossier_id: int
    commune_code: str
    status: DossierStatus
    timeliness: DossierTimeliness
    due_at: datetime
    original_due_at: datetime
    # Who holds the dossier now: the commune or the province (the two-level model transfers).
    level: Level = Level.COMMUNE
    paused_at: datetime | None = None
    paused_seconds: int = 0
    appointment_at: datetime | None = None
    result_at: datetime | None = None
    closed_at: datetime | None = None
    escalation_level: int = 0
    refusal_reason: str = ""
    seq: int = 0


@dataclass
class DossierStepInput:
    """One step of a dossier; `reason` for a supplement request, a transfer or a refusal."""

    actor: str
    reason: str = ""
    to_level: Level | None = None


@dataclass
class CaseEvent:
    kind: str
    at: datetime
    actor: str = ""
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordDossierInput:
    state: DossierState
    event: CaseEvent


@dataclass
class ResumeDueInput:
    due_at: datetime
    paused_at: datetime
    resumed_at: datetime
    unit: LimitUnit


@dataclass
class DueTime:
    at: datetime


@dataclass
class AppointmentInput:
    due_at: datetime
    working_days: int


@dataclass
class CaseNotifyInput:
    """One message of a case (`dossier-12`, `feedback-5`) to the people of a role for a commune,
    or to the applicant. Key: notify:{case}:{kind}:{step}:{recipient}."""

    case_id: str
    commune_code: str
    kind: CaseNotificationKind
    step: str
    to: str = Role.COMMUNE_LEADER.value
    context: dict[str, str] = field(default_factory=dict)


@dataclass
class CaseNotifyResult:
    recorded: int
    already_recorded: int


@dataclass
class FeedbackInput:
    feedback_id: int
    received_at: datetime
    policy: CasePolicy
    # Working days the commune has to answer.
    answer_within_working_days: int = 10


@dataclass
class Routing:
    """Where a feedback went and why: `chosen` (by the citizen) or `classified` (by its text)."""

    service_code: str
    commune_code: str
    method: str
    answer_due_at: datetime


@dataclass
class RouteFeedbackInput:
    feedback_id: int
    received_at: datetime
    answer_within_working_days: int


@dataclass
class FeedbackState:
    feedback_id: int
    status: FeedbackStatus
    commune_code: str | None = None
    service_code: str | None = None
    answer_due_at: datetime | None = None
    answered_at: datetime | None = None
    answered_on_time: bool | None = None
    escalation_level: int = 0
    rating: int | None = None
    forwarded: int = 0
    seq: int = 0


@dataclass
class ForwardInput:
    actor: str
    from_commune: str
    to_commune: str
    reason: str = ""


@dataclass
class AnswerInput:
    actor: str
    commune_code: str
    text: str


@dataclass
class RateInput:
    rating: int


@dataclass
class RecordFeedbackInput:
    state: FeedbackState
    event: CaseEvent
    answer: str | None = None


@dataclass
class DossierJournal:
    """What a dossier workflow has asked the read model to write, in order (its `journal`
    query), for the catch-up after a restore: repeated writes change nothing."""

    records: list[RecordDossierInput] = field(default_factory=list)
    notifications: list[CaseNotifyInput] = field(default_factory=list)


@dataclass
class FeedbackJournal:
    """What a feedback workflow has asked the read model to write, in order (its `journal`
    query): the routing request (settled once; a repeat returns the stored routing), states
    and messages."""

    routing: RouteFeedbackInput | None = None
    records: list[RecordFeedbackInput] = field(default_factory=list)
    notifications: list[CaseNotifyInput] = field(default_factory=list)
