"""The words of the province's indicators: what kind of figure an indicator is, which way is
better, whose series it is, how often it is reported, and the colour it shows against its next
milestone. Standard library only."""

from __future__ import annotations

from enum import StrEnum


class IndicatorKind(StrEnum):
    PERCENT = "percent"
    COUNT = "count"
    AMOUNT = "amount"
    # A position among the 34 provinces: lower is better.
    RANK = "rank"
    # A criterion that is met (1) or not (0).
    YES_NO = "yes_no"


class Direction(StrEnum):
    """Which way the figure must move to be better."""

    INCREASE = "increase"
    DECREASE = "decrease"


class IndicatorScope(StrEnum):
    """Whose series: the province's own, one commune's or one agency's."""

    PROVINCE = "province"
    COMMUNE = "commune"
    AGENCY = "agency"


class ReportingRhythm(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


# The length of one reporting period, in calendar months.
RHYTHM_MONTHS: dict[ReportingRhythm, int] = {
    ReportingRhythm.MONTHLY: 1,
    ReportingRhythm.QUARTERLY: 3,
    ReportingRhythm.YEARLY: 12,
}


class Colour(StrEnum):
    """Green: met or on pace; yellow: due within one reporting period after the milestone; red:
    late, off pace or missed; grey: too little reported to judge."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    GREY = "grey"
