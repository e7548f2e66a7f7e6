"""An indicator's reporting periods as calendar arithmetic: the month, quarter or year a period
covers, the one that ended last, its report-by time, and the reminders and escalation its
reporting tasks follow. One place, read by the office's request and by the schedule alike."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time

from vocabulary.calendar import VIETNAM, working_days_later
from vocabulary.directives import DirectivePolicy, EscalationStep
from vocabulary.indicators import RHYTHM_MONTHS, ReportingRhythm
from vocabulary.roles import Role

REPORT_WORKING_DAYS = 5
DAY = 86_400
# Reminded three days and one day before the report-by time; once late, the official in charge
# after two days and the steering office after five, as a directive's defaults escalate.
REPORTING_POLICY = DirectivePolicy(
    reminder_offsets_seconds=[3 * DAY, 1 * DAY],
    escalation=[
        EscalationStep(after_seconds=2 * DAY, to=Role.OFFICIAL_IN_CHARGE),
        EscalationStep(after_seconds=5 * DAY, to=Role.STEERING_OFFICE),
    ],
    acknowledge_within_seconds=None,
)


def period_of(rhythm: ReportingRhythm, start: date) -> tuple[date, date]:
    """The period that starts on `start`: a calendar month, quarter or year (ValueError when
    `start` is not where such a period starts)."""
    months = RHYTHM_MONTHS[rhythm]
    if start.day != 1 or (start.month - 1) % months != 0:
        raise ValueError(
            f"a {rhythm.value} period starts on the first day of its period, not {start}"
        )
    last = start.year * 12 + start.month - 1 + months - 1
    year, month = last // 12, last % 12 + 1
    return start, date(year, month, calendar.monthrange(year, month)[1])


def ended_last(rhythm: ReportingRhythm, today: date) -> tuple[date, date]:
    """The period that ended last before `today`: the one before the period today falls in. A
    period opens for it, and an indicator's status asks whether it was reported."""
    months = RHYTHM_MONTHS[rhythm]
    start = (today.year * 12 + today.month - 1) // months * months - months
    return period_of(rhythm, date(start // 12, start % 12 + 1, 1))


def report_by(period_end: date) -> datetime:
    """The close of the office day (17:00, Asia/Ho_Chi_Minh) of the fifth working day on the
    Vietnamese calendar after the period's last day."""
    return working_days_later(datetime.combine(period_end, time(12), VIETNAM), REPORT_WORKING_DAYS)


def directive_text(
    code: str, name: str, unit_of_measure: str, start: date, end: date, due: datetime
) -> tuple[str, str]:
    """The reporting task's title and body, as a commune reads them."""
    title = f"Báo cáo chỉ tiêu {code} kỳ {start:%d/%m/%Y}–{end:%d/%m/%Y}"[:500]
    body = (
        f"Đề nghị UBND xã báo cáo số liệu chỉ tiêu «{name}» ({unit_of_measure or 'số liệu'})"
        f" tính đến ngày {end:%d/%m/%Y}, kèm minh chứng,"
        f" trước {due.astimezone(VIETNAM):%H:%M ngày %d/%m/%Y}."
    )
    return title, body


def schedule_cron(rhythm: ReportingRhythm) -> str:
    """When a rhythm's period has just ended: 00:00 (Asia/Ho_Chi_Minh) on the first day of the
    next month, quarter or year."""
    months = {ReportingRhythm.MONTHLY: "*", ReportingRhythm.QUARTERLY: "1,4,7,10"}
    return f"0 0 1 {months.get(rhythm, '1')} *"


def indicator_schedule_id(code: str) -> str:
    return f"indicator-{code}"


def indicator_period_workflow_id(code: str) -> str:
    return f"indicator-period-{code}"
