"""Where each issued task of a plan stands, from its lead units' assignments: how many are
accepted ("37 / 102 accepted"), the Government Office bucket of the task as a whole, whether it
needs urging, and its last report. Counted in SQL, a few queries whatever the plan's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Assignment, Directive
from vocabulary.calendar import VIETNAM
from vocabulary.directives import AssignmentStatus, Timeliness

# "Cần đôn đốc": overdue, or due within this many days with no report yet.
URGE_WITHIN = timedelta(days=7)


@dataclass(frozen=True)
class TaskStanding:
    """One issued task's lead assignments, counted."""

    total: int
    accepted: int
    reported: int
    overdue: int
    late: int
    # The task's bucket: on_time or late once every lead unit is accepted (late if any was),
    # otherwise overdue if any open one is past its deadline, else within_deadline.
    timeliness: Timeliness
    needs_urging: bool
    next_deadline: datetime | None
    last_report: str
    last_report_at: datetime | None
    issued_on: date | None
    completed_at: datetime | None

    @property
    def done(self) -> bool:
        return self.total > 0 and self.accepted == self.total


def _bucket(total: int, accepted: int, late: int, overdue: int) -> Timeliness:
    if total and accepted == total:
        return Timeliness.LATE if late else Timeliness.ON_TIME
    return Timeliness.OVERDUE if overdue else Timeliness.WITHIN_DEADLINE


async def standings(
    session: AsyncSession, directives: dict[int, int], now: datetime
) -> dict[int, TaskStanding]:
    """Each issued task's standing, by task id; `directives` maps a task id to the directive
    its issue started."""
    if not directives:
        return {}
    completed = AssignmentStatus.COMPLETED.value
    cancelled = AssignmentStatus.CANCELLED.value
    open_ = Assignment.status.not_in([completed, cancelled])
    unreported = Assignment.status.not_in([completed, cancelled, AssignmentStatus.REPORTED.value])
    counted = await session.execute(
        select(
            Assignment.directive_id,
            func.count(),
            func.count(case((Assignment.status == completed, 1))),
            func.count(case((Assignment.status == AssignmentStatus.REPORTED.value, 1))),
            func.count(case((open_ & (Assignment.timeliness == Timeliness.OVERDUE.value), 1))),
            func.count(case((Assignment.timeliness == Timeliness.LATE.value, 1))),
            # Urging is about the lead units that have not reported.
            func.min(case((unreported, Assignment.deadline))),
            func.min(Directive.issued_at),
            func.max(Assignment.completed_at),
            func.max(Assignment.reported_at),
        )
        .join(Directive, Directive.id == Assignment.directive_id)
        .where(Assignment.directive_id.in_(list(directives.values())))
        .group_by(Assignment.directive_id)
    )
    by_directive = {row[0]: row[1:] for row in counted}
    last_reports = await _last_reports(session, list(by_directive))
    found: dict[int, TaskStanding] = {}
    for task_id, directive_id in directives.items():
        row = by_directive.get(directive_id)
        if row is None:
            continue
        total, accepted, reported, overdue, late, unreported_due, issued_at, completed_at, _ = row
        summary, reported_at = last_reports.get(directive_id, ("", None))
        urging = unreported_due is not None and (unreported_due <= now + URGE_WITHIN or overdue > 0)
        found[task_id] = TaskStanding(
            total=total,
            accepted=accepted,
            reported=reported,
            overdue=overdue,
            late=late,
            timeliness=_bucket(total, accepted, late, overdue),
            needs_urging=bool(urging),
            next_deadline=unreported_due,
            last_report=summary,
            last_report_at=reported_at,
            issued_on=local_day(issued_at),
            completed_at=completed_at if total and accepted == total else None,
        )
    return found


async def _last_reports(
    session: AsyncSession, directive_ids: list[int]
) -> dict[int, tuple[str, datetime | None]]:
    """The latest report of each directive's assignments: its text and when it came."""
    if not directive_ids:
        return {}
    latest = (
        select(Assignment.directive_id, func.max(Assignment.reported_at).label("at"))
        .where(Assignment.directive_id.in_(directive_ids), Assignment.reported_at.is_not(None))
        .group_by(Assignment.directive_id)
        .subquery()
    )
    rows = await session.execute(
        select(Assignment.directive_id, Assignment.report_summary, Assignment.reported_at).join(
            latest,
            (latest.c.directive_id == Assignment.directive_id)
            & (latest.c.at == Assignment.reported_at),
        )
    )
    return {d: (summary or "", at) for d, summary, at in rows}


def local_day(moment: datetime | None) -> date | None:
    return moment.astimezone(VIETNAM).date() if moment else None
