"""The scoring source "obligations": recurring obligations' periods that ended in a reporting
period, met or missed, per commune, in one query, with the missed ones behind points lost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.communes import DAK_LAK
from db.models import Commune, ObligationPeriod
from db.obligations import MET, MISSED
from scoring.periods import Period


def obligation_figures(
    session: Session, period: Period, as_of: datetime
) -> dict[str, dict[str, Any]]:
    """{commune: {obligations_due, obligations_met}}: periods that ended within `period`."""
    closed = (
        select(
            ObligationPeriod.commune_code,
            func.count().filter(ObligationPeriod.status.in_((MET, MISSED))).label("due"),
            func.count().filter(ObligationPeriod.status == MET).label("met"),
        )
        .where(ObligationPeriod.ends_at > period.start, ObligationPeriod.ends_at <= period.end)
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


def missed_periods(
    session: Session,
    period: Period,
    as_of: datetime,
    commune_code: str,
    counted: str,
    excluded: str | None,
) -> list[dict[str, Any]]:
    """The periods behind points lost: those missed."""
    rows = session.execute(
        select(ObligationPeriod.id, ObligationPeriod.recurring_id, ObligationPeriod.starts_at)
        .where(
            ObligationPeriod.commune_code == commune_code,
            ObligationPeriod.status == MISSED,
            ObligationPeriod.ends_at > period.start,
            ObligationPeriod.ends_at <= period.end,
        )
        .order_by(ObligationPeriod.starts_at)
    )
    return [
        {"obligation_period_id": pid, "recurring_id": rid, "starts_at": starts.isoformat(),
         "commune_code": commune_code}
        for pid, rid, starts in rows
    ]  # fmt: skip
