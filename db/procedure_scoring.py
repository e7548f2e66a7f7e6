"""The scoring sources of procedures and community feedback (rule set v3 on): per commune and
period, in one query per source, with the dossiers or feedback behind every point lost.

- `dossiers`: dossiers finished in the period (result ready or refused), by their end state,
  as db/procedure_indicators.py counts them: `dossiers_in_time` is early plus on time (the
  portals' "đúng hạn"), of `dossiers_finished`. A dossier still open past its due time
  counts once it ends (late).
- `feedback`: responsiveness counts feedback whose answer was due in the period and that
  the stored state has judged: answered (on time or not), or unanswered and escalated (the
  workflow escalates once the answer-by time has passed). An unanswered one whose due time
  has not passed yet counts for nobody, so the current month is not scored against answers
  not yet owed. Satisfaction counts the answers of the period the citizen rated; a rating of
  4 or 5 (of 5) is satisfied, as the satisfaction surveys of Decision 766/QĐ-TTg count the
  satisfied share. The mean rating is there as a figure.

Figures read stored state only, never the clock: a recompute of a past period gives what the
first computation gave. Evidence names records by id only (no applicant data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from db.communes import DAK_LAK
from db.models import Commune, Dossier, Feedback
from db.procedure_indicators import dossier_timeliness
from scoring.periods import Period

# A rating at or above this (of 5) is a satisfied citizen.
SATISFIED_FROM = 4
ENDED = ("early", "on_time", "late")


def _dossiers_of(period: Period) -> ColumnElement[bool]:
    finished_at = func.coalesce(Dossier.result_at, Dossier.closed_at)
    return and_(
        Dossier.timeliness.in_(ENDED), finished_at >= period.start, finished_at < period.end
    )


# The predicate behind every dossier figure (within the dossiers finished in the period).
DOSSIER_FIELDS: dict[str, ColumnElement[bool]] = {
    "dossiers_finished": Dossier.timeliness.in_(ENDED),
    "dossiers_in_time": Dossier.timeliness.in_(("early", "on_time")),
    "dossiers_early": Dossier.timeliness == "early",
    "dossiers_on_time": Dossier.timeliness == "on_time",
    "dossiers_late": Dossier.timeliness == "late",
}


def dossier_figures(session: Session, period: Period, as_of: datetime) -> dict[str, dict[str, Any]]:
    rows = dossier_timeliness(session, period.start, period.end)
    return {
        code: {
            "dossiers_finished": r.finished,
            "dossiers_in_time": r.early + r.on_time,
            "dossiers_early": r.early,
            "dossiers_on_time": r.on_time,
            "dossiers_late": r.late,
        }
        for code, r in rows.items()
    }


def dossiers_behind(
    session: Session,
    period: Period,
    as_of: datetime,
    commune_code: str,
    counted: str,
    excluded: str | None,
) -> list[dict[str, Any]]:
    """The dossiers a figure counts less those of another: the late ones behind points lost."""
    condition = DOSSIER_FIELDS[counted]
    if excluded is not None:
        condition = and_(condition, ~DOSSIER_FIELDS[excluded])
    rows = session.execute(
        select(Dossier.id, Dossier.procedure_code, Dossier.timeliness, Dossier.original_due_at,
               func.coalesce(Dossier.result_at, Dossier.closed_at))
        .where(Dossier.commune_code == commune_code, _dossiers_of(period), condition)
        .order_by(Dossier.id)
    )  # fmt: skip
    return [
        {"dossier_id": did, "commune_code": commune_code, "procedure_code": procedure,
         "timeliness": timeliness, "due_at": _iso(due), "finished_at": _iso(finished)}
        for did, procedure, timeliness, due, finished in rows
    ]  # fmt: skip


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _feedback_fields(period: Period) -> dict[str, ColumnElement[bool]]:
    due = and_(Feedback.answer_due_at >= period.start, Feedback.answer_due_at < period.end)
    judged = and_(due, or_(Feedback.answered_on_time.is_not(None), Feedback.escalation_level > 0))
    rated = and_(
        Feedback.rating.is_not(None),
        Feedback.answered_at >= period.start,
        Feedback.answered_at < period.end,
    )
    return {
        "feedback_due": judged,
        "feedback_answered_on_time": and_(judged, Feedback.answered_on_time.is_(True)),
        "feedback_rated": rated,
        "feedback_satisfied": and_(rated, Feedback.rating >= SATISFIED_FROM),
    }


def feedback_figures(
    session: Session, period: Period, as_of: datetime
) -> dict[str, dict[str, Any]]:
    fields = _feedback_fields(period)
    counts = [func.coalesce(func.sum(case((p, 1), else_=0)), 0) for p in fields.values()]
    mean = func.avg(case((fields["feedback_rated"], cast(Feedback.rating, Float)), else_=None))
    rows = session.execute(
        select(Commune.code, *counts, mean)
        .select_from(Commune)
        .outerjoin(
            Feedback,
            and_(
                Feedback.commune_code == Commune.code,
                or_(fields["feedback_due"], fields["feedback_rated"]),
            ),
        )
        .where(Commune.province_code == str(DAK_LAK))
        .group_by(Commune.code)
    )
    names = list(fields)
    return {
        code: {name: int(n) for name, n in zip(names, figures[:-1], strict=True)}
        | {
            "feedback_mean_rating": round(float(figures[-1]), 2)
            if figures[-1] is not None
            else None
        }
        for code, *figures in rows
    }


def feedback_behind(
    session: Session,
    period: Period,
    as_of: datetime,
    commune_code: str,
    counted: str,
    excluded: str | None,
) -> list[dict[str, Any]]:
    """The feedback a figure counts less those of another: answered late or not at all, or
    rated below satisfied."""
    fields = _feedback_fields(period)
    condition = fields[counted]
    if excluded is not None:
        condition = and_(condition, ~fields[excluded])
    rows = session.execute(
        select(Feedback.id, Feedback.answer_due_at, Feedback.answered_at, Feedback.rating)
        .where(Feedback.commune_code == commune_code, condition)
        .order_by(Feedback.id)
    )
    return [
        {"feedback_id": fid, "commune_code": commune_code, "answer_due_at": _iso(due),
         "answered_at": _iso(answered), "rating": rating}
        for fid, due, answered, rating in rows
    ]  # fmt: skip
