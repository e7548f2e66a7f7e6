"""The scoring sources of procedures and community feedback (rule set v3 on): per commune and
period, in one query per source, with the dossiers or feedback behind every point lost. What
each figure counts is defined once, in scoring/indicators.py, and both the figures and the
evidence count with those predicates.

- `dossiers`: dossiers finished in the period (result ready or refused), by their end state,
  counted by scoring/procedure_indicators.py: `dossiers_in_time` is early plus on time, of
  `dossiers_finished`.
- `feedback`: responsiveness counts feedback whose answer was due in the period and that the
  stored state has judged (answered, or unanswered and escalated); satisfaction counts the
  answers of the period the citizen rated. The mean rating is there as a figure.

Figures read stored state only, never the clock: a recompute of a past period gives what the
first computation gave. Evidence names records by id only (no applicant data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from db.communes import DAK_LAK
from db.models import Commune, Dossier, Feedback
from scoring.indicators import (
    DOSSIER_FIELDS,
    dossier_finished_at,
    dossiers_finished_in,
    feedback_fields,
)
from scoring.periods import Period
from scoring.procedure_indicators import dossier_timeliness


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
               dossier_finished_at())
        .where(Dossier.commune_code == commune_code,
               dossiers_finished_in(period.start, period.end), condition)
        .order_by(Dossier.id)
    )  # fmt: skip
    return [
        {"dossier_id": did, "commune_code": commune_code, "procedure_code": procedure,
         "timeliness": timeliness, "due_at": _iso(due), "finished_at": _iso(finished)}
        for did, procedure, timeliness, due, finished in rows
    ]  # fmt: skip


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def feedback_figures(
    session: Session, period: Period, as_of: datetime
) -> dict[str, dict[str, Any]]:
    fields = feedback_fields(period.start, period.end)
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
    fields = feedback_fields(period.start, period.end)
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
