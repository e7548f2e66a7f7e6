"""Recurring obligations read and reported: a commune leader's activity against the open
period of their commune, and the scoring source "obligations" (periods that ended in a
reporting period, met or missed, per commune, in one query)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.communes import DAK_LAK
from db.models import Commune, ObligationPeriod, ObligationReport
from db.upsert import insert_ignoring_duplicates
from scoring.periods import Period

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
