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


class IndicatorSource(StrEnum):
    """Where an indicator's values come from: reported by the units (and verified by the
    office), or computed from the product's own records, as of the last day of each month."""

    REPORTED = "reported"
    # The share of dossiers with a result that were finished on time (early or on time).
    DOSSIERS_ON_TIME = "dossiers_on_time"
    # The share of feedback whose answer was due and judged that was answered on time.
    FEEDBACK_ANSWERED_IN_TIME = "feedback_answered_in_time"
    # The communes all of whose assignments due so far are completed.
    COMMUNES_ALL_ACCEPTED = "communes_all_accepted"


# What a computed indicator must be: its kind and the scopes it can be read for.
SOURCE_FITS: dict[IndicatorSource, tuple[IndicatorKind, frozenset[IndicatorScope]]] = {
    IndicatorSource.DOSSIERS_ON_TIME: (
        IndicatorKind.PERCENT,
        frozenset({IndicatorScope.PROVINCE, IndicatorScope.COMMUNE}),
    ),
    IndicatorSource.FEEDBACK_ANSWERED_IN_TIME: (
        IndicatorKind.PERCENT,
        frozenset({IndicatorScope.PROVINCE, IndicatorScope.COMMUNE}),
    ),
    # A count of communes is the province's own figure.
    IndicatorSource.COMMUNES_ALL_ACCEPTED: (
        IndicatorKind.COUNT,
        frozenset({IndicatorScope.PROVINCE}),
    ),
}

# Where the figures come from, as GET /indicators/{code} says it (Vietnamese, English).
SOURCE_TEXT: dict[IndicatorSource, tuple[str, str]] = {
    IndicatorSource.REPORTED: (
        "Do đơn vị báo cáo, Văn phòng xác nhận",
        "Reported by the units and verified by the steering office",
    ),
    IndicatorSource.DOSSIERS_ON_TIME: (
        "Tính từ hồ sơ thủ tục hành chính: tỷ lệ hồ sơ giải quyết đúng hạn (kể cả trước hạn)"
        " trong các hồ sơ đã có kết quả, tính đến ngày cuối mỗi tháng",
        "Computed from the administrative dossiers: the share finished on time (early"
        " included) of those with a result, as of the last day of each month",
    ),
    IndicatorSource.FEEDBACK_ANSWERED_IN_TIME: (
        "Tính từ phản ánh, kiến nghị: tỷ lệ phản ánh được trả lời đúng hạn trong các phản ánh"
        " đã đến hạn trả lời và đã được đánh giá, tính đến ngày cuối mỗi tháng",
        "Computed from citizens' feedback: the share answered on time of the feedback whose"
        " answer was due and has been judged, as of the last day of each month",
    ),
    IndicatorSource.COMMUNES_ALL_ACCEPTED: (
        "Tính từ nhiệm vụ giao xã: số xã có mọi nhiệm vụ đến hạn đều đã được nghiệm thu"
        " (hoàn thành), tính đến ngày cuối mỗi tháng",
        "Computed from the communes' assignments: the communes all of whose assignments"
        " due so far are completed, as of the last day of each month",
    ),
}
