"""The words of a case's timeline: the kinds of event an assignment, a dossier and a feedback
record, and the timed steps of their policies. Standard library only.

An event kind is stored in the read model's event tables and change feed, and travels in
recorded workflow histories: a value never changes once written, and a new kind is a new
member."""

from __future__ import annotations

from enum import StrEnum


class AssignmentEventKind(StrEnum):
    # Written by the directive's planning activity when the assignment is created.
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    REPORTED = "reported"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_GRANTED = "extension_granted"
    EXTENSION_REFUSED = "extension_refused"
    AMENDED = "amended"
    CANCELLED = "cancelled"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    # Back after an outage, the latest of the reminders missed was sent and the earlier ones
    # skipped (detail: the reminder sent, how many were skipped and their keys).
    REMINDERS_SKIPPED = "reminders_skipped"


class DossierEventKind(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    TRANSFERRED = "transferred"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    SUPPLEMENT_RECEIVED = "supplement_received"
    RESULT_READY = "result_ready"
    RETURNED = "returned"
    REFUSED = "refused"
    # The formal apology with a new appointment, sent when the result will be late.
    APOLOGY_SENT = "apology_sent"
    OVERDUE = "overdue"
    ESCALATED = "escalated"


class FeedbackEventKind(StrEnum):
    ROUTED = "routed"
    # The classifier could not tell the commune: the steering office routes it by hand.
    UNROUTED = "unrouted"
    FORWARDED = "forwarded"
    ANSWERED = "answered"
    RATED = "rated"
    CLOSED = "closed"
    ESCALATED = "escalated"


class StepAction(StrEnum):
    """What a timed step of a case's policy does when its time comes."""

    # Remind the commune to acknowledge an assignment it has not yet acknowledged.
    ACKNOWLEDGE = "acknowledge"
    REMINDER = "reminder"
    # An assignment's deadline passes: it becomes overdue.
    DEADLINE = "deadline"
    # A dossier's due time passes: it becomes overdue.
    DUE = "due"
    APOLOGY = "apology"
    ESCALATION = "escalation"
