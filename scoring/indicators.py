"""What each scoring figure counts, written once: the predicates the roll-ups count with and
the evidence queries list the records behind a figure with, so a scorecard's explanation
names exactly the records its figures counted.

Figures read stored state only, never the clock: a recompute of a past period gives what the
first computation gave."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_

from db.models import Dossier, Feedback, ObligationPeriod
from db.obligations import MET, MISSED
from vocabulary.directives import AssignmentStatus, Timeliness


@dataclass(frozen=True)
class Rows:
    """The columns the predicates read: an assignment of the period, with its events counted."""

    status: Any
    timeliness: Any
    acknowledge_by: Any
    acknowledged_at: Any
    escalation_level: Any
    returns: Any
    extensions_requested: Any
    extensions_granted: Any


Predicate = Callable[[Rows], ColumnElement[bool]]
_DECIDED = (Timeliness.ON_TIME.value, Timeliness.LATE.value, Timeliness.OVERDUE.value)

# Each figure of the assignments' roll-up, as the assignments it counts: first those read
# from the assignment's own columns…
FIELDS: dict[str, Predicate] = {
    "received": lambda r: literal(True),
    # Its deadline has passed or it was answered: the ones timeliness can be judged on.
    "decided": lambda r: r.timeliness.in_(_DECIDED),
    "on_time": lambda r: r.timeliness == Timeliness.ON_TIME.value,
    "completed_on_time": lambda r: and_(
        r.status == AssignmentStatus.COMPLETED.value, r.timeliness == Timeliness.ON_TIME.value
    ),
    "completed_late": lambda r: and_(
        r.status == AssignmentStatus.COMPLETED.value, r.timeliness == Timeliness.LATE.value
    ),
    "overdue_now": lambda r: r.timeliness == Timeliness.OVERDUE.value,
    # Judged on speed once acknowledged or once its deadline has passed (an acknowledge-by
    # time always comes before the deadline). Read from stored state only, never the clock,
    # so a recompute of a past period gives what the first computation gave.
    "acknowledgement_due": lambda r: and_(
        r.acknowledge_by.is_not(None),
        or_(r.acknowledged_at.is_not(None), r.timeliness.in_(_DECIDED)),
    ),
    "acknowledged_in_time": lambda r: and_(
        r.acknowledge_by.is_not(None), r.acknowledged_at <= r.acknowledge_by
    ),
    "escalated": lambda r: r.escalation_level >= 1,
    "escalated_level_1": lambda r: r.escalation_level == 1,
    "escalated_level_2": lambda r: r.escalation_level == 2,
    "escalated_level_3_plus": lambda r: r.escalation_level >= 3,
}
# … then those read from its timeline.
EVENT_FIELDS: dict[str, Predicate] = {
    "returned_for_rework": lambda r: r.returns > 0,
    "extension_asked": lambda r: r.extensions_requested > 0,
    "extension_granted": lambda r: r.extensions_granted > 0,
}


def judged_by_state(r: Rows) -> ColumnElement[bool]:
    """Judged on the assignment's own columns: its deadline has passed or it was answered, or
    it was escalated (an escalation stays when an extension then moves the deadline)."""
    return or_(r.timeliness.in_(_DECIDED), r.escalation_level >= 1)


def judged(r: Rows) -> ColumnElement[bool]:
    """Something about it has been judged, for or against the commune: the denominator of the
    indicators that count what went wrong (escalated, returned for rework). An assignment
    issued minutes ago, not yet due, is judged on nothing: it counts for no indicator, and a
    commune with nothing judged is not rated. The roll-up counts it and the evidence lists it
    with this predicate, the returns read from the count the assignment's row keeps."""
    return or_(judged_by_state(r), r.returns > 0)


ALL_FIELDS = {**FIELDS, **EVENT_FIELDS, "judged": judged}


# Recurring obligations: a commune's periods that ended in the reporting period, met or
# missed; one not applicable (a week with no working day) counts for nobody.
OBLIGATION_FIELDS: dict[str, ColumnElement[bool]] = {
    "obligations_due": ObligationPeriod.status.in_((MET, MISSED)),
    "obligations_met": ObligationPeriod.status == MET,
}


def obligations_ended_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Obligation periods whose end falls in (start, end]: a week ending at midnight belongs
    to the period it closes."""
    return and_(ObligationPeriod.ends_at > start, ObligationPeriod.ends_at <= end)


# Dossiers: those finished in the period (result ready, or refused), by the early / on-time /
# late bucket of their end state; "in time" is early plus on time, as the public-service
# portals' "đúng hạn" counts it. One still open past its due time counts once it ends (late).
ENDED = ("early", "on_time", "late")
DOSSIER_FIELDS: dict[str, ColumnElement[bool]] = {
    "dossiers_finished": Dossier.timeliness.in_(ENDED),
    "dossiers_in_time": Dossier.timeliness.in_(("early", "on_time")),
    "dossiers_early": Dossier.timeliness == "early",
    "dossiers_on_time": Dossier.timeliness == "on_time",
    "dossiers_late": Dossier.timeliness == "late",
}


def dossier_finished_at() -> ColumnElement[Any]:
    """When a dossier ended: its result, or its closing when refused."""
    return func.coalesce(Dossier.result_at, Dossier.closed_at)


def dossiers_finished_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Dossiers that ended in [start, end)."""
    finished_at = dossier_finished_at()
    return and_(DOSSIER_FIELDS["dossiers_finished"], finished_at >= start, finished_at < end)


# A rating at or above this (of 5) is a satisfied citizen, as the satisfaction surveys of
# Decision 766/QĐ-TTg count the satisfied share.
SATISFIED_FROM = 4

# Answered by its answer-by time (the workflow sets it when the answer is given).
FEEDBACK_ANSWERED_ON_TIME: ColumnElement[bool] = Feedback.answered_on_time.is_(True)


def feedback_owed_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Feedback whose answer was due in [start, end), judged or not yet."""
    return and_(Feedback.answer_due_at >= start, Feedback.answer_due_at < end)


def feedback_rated_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Feedback answered in [start, end) and rated by the citizen."""
    return and_(
        Feedback.rating.is_not(None), Feedback.answered_at >= start, Feedback.answered_at < end
    )


def feedback_judged_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Feedback due in [start, end) that the stored state has judged: answered (on time or
    not), or unanswered and escalated (the workflow escalates once the answer-by time has
    passed). The one denominator of "answered on time", for the scores and the indicators."""
    return and_(
        feedback_owed_in(start, end),
        or_(Feedback.answered_on_time.is_not(None), Feedback.escalation_level > 0),
    )


def feedback_fields(start: datetime, end: datetime) -> dict[str, ColumnElement[bool]]:
    """The feedback figures of the published scores. Responsiveness counts feedback whose
    answer was due in the period and that the stored state has judged: answered (on time or
    not), or unanswered and escalated (the workflow escalates once the answer-by time has
    passed). An unanswered one not escalated yet counts for nobody, so the current month is
    not scored against answers not yet owed."""
    judged = feedback_judged_in(start, end)
    rated = feedback_rated_in(start, end)
    return {
        "feedback_due": judged,
        "feedback_answered_on_time": and_(judged, FEEDBACK_ANSWERED_ON_TIME),
        "feedback_rated": rated,
        "feedback_satisfied": and_(rated, Feedback.rating >= SATISFIED_FROM),
    }
