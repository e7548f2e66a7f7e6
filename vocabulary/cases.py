"""The words of citizens' cases: administrative-procedure dossiers and community feedback, their
statuses, timeliness, notices and policy, and the workflow ids. Standard library only. New fields
go last with a default, so running workflows keep replaying."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from vocabulary.directives import EscalationStep
from vocabulary.roles import Role


class LimitUnit(StrEnum):
    """The unit of a statutory processing limit: never a bare number."""

    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"
    # Due the day of receipt; received after the 15:00 cut-off, the next working day.
    SAME_DAY = "same_day"


class Level(StrEnum):
    COMMUNE = "commune"
    PROVINCE = "province"


class DossierStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    RESULT_READY = "result_ready"
    RETURNED = "returned"
    REFUSED = "refused"


DOSSIER_CLOSED = frozenset({DossierStatus.RETURNED, DossierStatus.REFUSED})


# Once the result is ready (or the dossier refused) nothing is chased any more.
DOSSIER_DONE = frozenset(
    {DossierStatus.RESULT_READY, DossierStatus.RETURNED, DossierStatus.REFUSED}
)


class DossierTimeliness(StrEnum):
    """What public-service portals show: early, on time, late; and, while open, whether the
    due time has passed."""

    WITHIN_LIMIT = "within_limit"
    OVERDUE = "overdue"
    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"


class FeedbackStatus(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    ANSWERED = "answered"
    CLOSED = "closed"


class CaseNotificationKind(StrEnum):
    DOSSIER_REMINDER = "dossier_reminder"
    DOSSIER_ESCALATION = "dossier_escalation"
    DOSSIER_APOLOGY = "dossier_apology"
    FEEDBACK_ROUTED = "feedback_routed"
    FEEDBACK_REMINDER = "feedback_reminder"
    FEEDBACK_ESCALATION = "feedback_escalation"
    FEEDBACK_ANSWERED = "feedback_answered"


APPLICANT = "applicant"


@dataclass
class CasePolicy:
    """When to remind the handling commune and whom to escalate to, as for an assignment."""

    # Seconds before the due time.
    reminder_offsets_seconds: list[int] = field(default_factory=lambda: [86400])
    escalation: list[EscalationStep] = field(
        default_factory=lambda: [
            EscalationStep(after_seconds=86400, to=Role.OFFICIAL_IN_CHARGE),
            EscalationStep(after_seconds=3 * 86400, to=Role.STEERING_OFFICE),
        ]
    )
    # Dossiers: the apology letter goes out this long before the due time if the result is
    # not ready by then, with a new appointment this many working days after the due date.
    apology_before_seconds: int = 4 * 3600
    apology_extra_working_days: int = 2


def dossier_workflow_id(dossier_id: int) -> str:
    return f"dossier-{dossier_id}"


def feedback_workflow_id(feedback_id: int) -> str:
    return f"feedback-{feedback_id}"
