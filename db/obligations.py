"""Recurring obligations reported: a commune leader's activity against the open period of
their commune. What a period met or missed counts for is scoring/obligations.py's."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import ObligationPeriod, ObligationReport
from db.upsert import insert_ignoring_duplicates

OPEN, MET, MISSED = "open", "met", "missed"


class NoOpenPeriod(LookupError):
    pass


def report_activity(
    session: Session,
    recurring_id: int,
    commune_code: str,
    title: str,
    done_on: date,
    link: str,
    actor: str,
) -> ObligationPeriod:
    """Record one activity against the commune's open period; the same report twice is
    stored once. The period row is locked so that a close running at that moment counts it
    or refuses it, never half."""
    period = session.scalar(
        select(ObligationPeriod)
        .where(
            ObligationPeriod.recurring_id == recurring_id,
            ObligationPeriod.commune_code == commune_code,
            ObligationPeriod.status == OPEN,
        )
        .order_by(ObligationPeriod.starts_at.desc())
        .limit(1)
        .with_for_update()
    )
    if period is None:
        raise NoOpenPeriod(
            f"no open period of recurring directive {recurring_id} for {commune_code}"
        )
    session.execute(
        insert_ignoring_duplicates(
            ObligationReport.__table__,  # type: ignore[arg-type]
            session.get_bind().dialect.name,
            [{"period_id": period.id, "title": title, "done_on": done_on.isoformat(),
              "link": link, "reported_by": actor}],
        )
    )  # fmt: skip
    period.reported_count = int(
        session.scalar(
            select(func.count(ObligationReport.id)).where(ObligationReport.period_id == period.id)
        )
        or 0
    )
    return period
