"""The scoring source "obligations": recurring obligations' periods that ended in a reporting
period, met or missed, per commune, in one query, with the missed ones behind points lost;
what each figure counts is scoring/indicators.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from db.communes import DAK_LAK
from db.models import Commune, ObligationPeriod
from scoring.indicators import OBLIGATION_FIELDS, obligations_ended_in
from scoring.periods import Period


def obligation_figures(
    session: Session, period: Period, as_of: datetime
) -> dict[str, dict[str, Any]]:
    """{commune: {obligations_due, obligations_met}}: periods that ended within `period`."""
    closed = (
        select(
            ObligationPeriod.commune_code,
            func.count().filter(OBLIGATION_FIELDS["obligations_due"]).label("due"),
            func.count().filter(OBLIGATION_FIELDS["obligations_met"]).label("met"),
        )
        .where(obligations_ended_in(period.start, period.end))
        .group_by(ObligationPeriod.commune_code)
        .subquery()
    )
    rows = session.execute(
        select(
            Commune.code,
            func.coalesce(closed.c.due, 0),
            func.coalesce(closed.c.met, 0),
        )
        .outerjoin(closed, closed.c.commune_code == Commune.code)
        .where(Commune.province_code == str(DAK_LAK))
    )
    return {
        code: {"obligations_due": int(due), "obligations_met": int(met)} for code, due, met in rows
    }


def periods_behind(
    session: Session,
    period: Period,
    as_of: datetime,
    commune_code: str,
    counted: str,
    excluded: str | None,
) -> list[dict[str, Any]]:
    """The periods a figure counts less those of another: the missed ones behind points lost
    (due, less met)."""
    condition = OBLIGATION_FIELDS[counted]
    if excluded is not None:
        condition = and_(condition, ~OBLIGATION_FIELDS[excluded])
    rows = session.execute(
        select(ObligationPeriod.id, ObligationPeriod.recurring_id, ObligationPeriod.starts_at)
        .where(
            ObligationPeriod.commune_code == commune_code,
            obligations_ended_in(period.start, period.end),
            condition,
        )
        .order_by(ObligationPeriod.starts_at)
    )
    return [
        {"obligation_period_id": pid, "recurring_id": rid, "starts_at": starts.isoformat(),
         "commune_code": commune_code}
        for pid, rid, starts in rows
    ]  # fmt: skip
