"""Per-commune procedure and feedback indicators for a period, for the scorecard's rule set.

Each indicator is ONE aggregate query over all communes of the province (communes with nothing
in the period are there with zero counts and null shares), built as a `Select` so the sync
scorer and the async API can both run it:

    rows = dossier_timeliness(session, start, end)        # sync Session
    rows = await session.execute(dossier_timeliness_query(start, end))   # AsyncSession

Periods are half-open, [start, end), on timezone-aware datetimes.

The predicates are those of scoring/indicators.py, the ones the published scores count with:

- Dossier timeliness: dossiers finished in the period (result ready, or refused), by the
  early / on-time / late bucket of their end state. `on_time_share` counts early and on time
  together, as the public-service portals' "đúng hạn" does.
- Feedback on time: answered on time over the feedback due in the period that is judged
  (answered, or unanswered and escalated): the published scores' definition, one condition
  in scoring/indicators.py, so the indicator and the scorecard never disagree. An unanswered
  one not yet escalated counts for nobody.
- Satisfaction: the mean rating (1–5) of feedback answered in the period and rated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Select, and_, case, cast, func, select
from sqlalchemy.orm import Session

from db.communes import DAK_LAK
from db.models import Commune, Dossier, Feedback
from scoring.indicators import (
    DOSSIER_FIELDS,
    FEEDBACK_ANSWERED_ON_TIME,
    dossiers_finished_in,
    feedback_judged_in,
    feedback_rated_in,
)


@dataclass(frozen=True)
class DossierTimelinessRow:
    commune_code: str
    finished: int
    early: int
    on_time: int
    late: int
    early_share: float | None
    on_time_share: float | None
    late_share: float | None


@dataclass(frozen=True)
class FeedbackOnTimeRow:
    commune_code: str
    due: int
    answered_on_time: int
    on_time_share: float | None


@dataclass(frozen=True)
class SatisfactionRow:
    commune_code: str
    rated: int
    mean_rating: float | None


def _share(part: Any, whole: Any) -> Any:
    return case((whole > 0, cast(part, Float) / cast(whole, Float)), else_=None)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _per_commune(records: Any, joined: Any, province_code: int, *figures: Any) -> Select[Any]:
    """Every commune of the province with `figures` over its `records` that meet `joined`:
    a commune with none has zero counts and null shares."""
    return (
        select(Commune.code, *figures)
        .select_from(Commune)
        .outerjoin(records, and_(records.commune_code == Commune.code, joined))
        .where(Commune.province_code == str(province_code))
        .group_by(Commune.code)
        .order_by(Commune.code)
    )


def dossier_timeliness_query(
    start: datetime, end: datetime, province_code: int = DAK_LAK
) -> Select[Any]:
    early = _count(DOSSIER_FIELDS["dossiers_early"])
    on_time = _count(DOSSIER_FIELDS["dossiers_on_time"])
    late = _count(DOSSIER_FIELDS["dossiers_late"])
    finished = func.count(Dossier.id)
    return _per_commune(
        Dossier,
        dossiers_finished_in(start, end),
        province_code,
        finished,
        early,
        on_time,
        late,
        _share(early, finished),
        _share(early + on_time, finished),
        _share(late, finished),
    )


def dossier_timeliness(
    session: Session, start: datetime, end: datetime, province_code: int = DAK_LAK
) -> dict[str, DossierTimelinessRow]:
    rows = session.execute(dossier_timeliness_query(start, end, province_code))
    return {
        r[0]: DossierTimelinessRow(
            r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), r[5], r[6], r[7]
        )
        for r in rows
    }


def feedback_on_time_query(
    start: datetime, end: datetime, province_code: int = DAK_LAK
) -> Select[Any]:
    due = func.count(Feedback.id)
    on_time = _count(FEEDBACK_ANSWERED_ON_TIME)
    return _per_commune(
        Feedback, feedback_judged_in(start, end), province_code, due, on_time, _share(on_time, due)
    )


def feedback_on_time(
    session: Session, start: datetime, end: datetime, province_code: int = DAK_LAK
) -> dict[str, FeedbackOnTimeRow]:
    rows = session.execute(feedback_on_time_query(start, end, province_code))
    return {r[0]: FeedbackOnTimeRow(r[0], int(r[1]), int(r[2]), r[3]) for r in rows}


def satisfaction_query(start: datetime, end: datetime, province_code: int = DAK_LAK) -> Select[Any]:
    return _per_commune(
        Feedback,
        feedback_rated_in(start, end),
        province_code,
        func.count(Feedback.id),
        func.avg(cast(Feedback.rating, Float)),
    )


def satisfaction(
    session: Session, start: datetime, end: datetime, province_code: int = DAK_LAK
) -> dict[str, SatisfactionRow]:
    rows = session.execute(satisfaction_query(start, end, province_code))
    return {
        r[0]: SatisfactionRow(r[0], int(r[1]), float(r[2]) if r[2] is not None else None)
        for r in rows
    }
