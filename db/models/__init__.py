"""The SQL read model. Workflows own the truth of a process; these tables are what the API,
the dashboard and the scoring read, written only by idempotent activities (and the API for
directives, tokens and the roster).

One module a noun, all on one declarative base (`db.models.base`): importing this package
registers every table on the one metadata Alembic compares against, and `from db.models
import X` names any of them."""

from db.models.accounts import (
    PROVINCE_SCOPE,
    AccountSetup,
    ApiToken,
    AuditEntry,
    Person,
    RosterEntry,
    WebAccount,
    WebSession,
)
from db.models.action_keys import ActionKey
from db.models.base import Base, UtcDateTime, utcnow
from db.models.cases import (
    Dossier,
    DossierEventRow,
    Feedback,
    FeedbackEventRow,
    Procedure,
    ProcedureCommuneLimit,
)
from db.models.changes import Change, RateCount
from db.models.communes import Commune
from db.models.delivery import (
    DeadLetter,
    Delivery,
    Notification,
    OutboxEntry,
    ProviderToken,
    UsedLink,
)
from db.models.directives import (
    Assignment,
    AssignmentEventRow,
    Directive,
    EvidenceFile,
    assignment_columns,
    policy_from_json,
    policy_to_json,
)
from db.models.indicators import (
    Indicator,
    IndicatorMilestone,
    IndicatorPeriod,
    IndicatorValue,
)
from db.models.obligations import ObligationPeriod, ObligationReport, RecurringDirective
from db.models.plans import (
    Plan,
    PlanTask,
    PlanTaskContribution,
    PlanTaskPartner,
    PlanTaskPeriod,
    PlanTaskUnit,
)
from db.models.scores import ScoreSnapshot
from db.models.units import Unit
from db.models.webhooks import WebhookAttempt, WebhookSubscription

__all__ = [
    "PROVINCE_SCOPE",
    "AccountSetup",
    "ActionKey",
    "ApiToken",
    "Assignment",
    "AssignmentEventRow",
    "AuditEntry",
    "Base",
    "Change",
    "Commune",
    "DeadLetter",
    "Delivery",
    "Directive",
    "Dossier",
    "DossierEventRow",
    "EvidenceFile",
    "Feedback",
    "FeedbackEventRow",
    "Indicator",
    "IndicatorMilestone",
    "IndicatorPeriod",
    "IndicatorValue",
    "Notification",
    "ObligationPeriod",
    "ObligationReport",
    "OutboxEntry",
    "Person",
    "Plan",
    "PlanTask",
    "PlanTaskContribution",
    "PlanTaskPartner",
    "PlanTaskPeriod",
    "PlanTaskUnit",
    "Procedure",
    "ProcedureCommuneLimit",
    "ProviderToken",
    "RateCount",
    "RecurringDirective",
    "RosterEntry",
    "ScoreSnapshot",
    "Unit",
    "UsedLink",
    "UtcDateTime",
    "WebAccount",
    "WebSession",
    "WebhookAttempt",
    "WebhookSubscription",
    "assignment_columns",
    "policy_from_json",
    "policy_to_json",
    "utcnow",
]
