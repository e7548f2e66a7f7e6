"""Deadline cells of plan tasks, written the way Vietnamese offices write them, read into dates."""

from __future__ import annotations

from datetime import date

import pytest

from vocabulary.deadline_text import (
    FORMS,
    Deadline,
    DeadlineTextError,
    Recurrence,
    ReportEvery,
    parse_deadline,
)


def day(text: str) -> date:
    d, m, y = (int(n) for n in text.split("/"))
    return date(y, m, d)


def assert_milestones(text: str, *expected: str) -> None:
    deadline = parse_deadline(text)
    assert deadline.milestones == tuple(day(e) for e in expected)
    assert deadline.recurrence is None
    assert deadline.final == day(expected[-1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/12/2026", "31/12/2026"),
        ("1/7/2026", "01/07/2026"),
        ("01/07/2026", "01/07/2026"),
        ("31-12-2026", "31/12/2026"),
        ("31.12.2026", "31/12/2026"),
        ("29/02/2028", "29/02/2028"),
        (" 15 / 3 / 2027 ", "15/03/2027"),
        ("30/6/2026.", "30/06/2026"),
    ],
)
def test_a_date_is_that_day(text: str, expected: str) -> None:
    assert_milestones(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tháng 5/2026", "31/05/2026"),
        ("Tháng 05/2026", "31/05/2026"),
        ("tháng 5 năm 2026", "31/05/2026"),
        ("THÁNG 4/2026", "30/04/2026"),
        ("Tháng 2/2026", "28/02/2026"),
        ("Tháng 2/2028", "29/02/2028"),
        ("Tháng 2/2100", "28/02/2100"),
        ("Thang 11 nam 2026", "30/11/2026"),
        ("Tháng  12 / 2026.", "31/12/2026"),
    ],
)
def test_a_month_is_its_last_day(text: str, expected: str) -> None:
    assert_milestones(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Quý I/2026", "31/03/2026"),
        ("Quý II/2026", "30/06/2026"),
        ("Quý 2/2026", "30/06/2026"),
        ("Quý III/2026", "30/09/2026"),
        ("quý IV năm 2026", "31/12/2026"),
        ("QUÝ iv/2027", "31/12/2027"),
        ("Quy 3 nam 2026", "30/09/2026"),
    ],
)
def test_a_quarter_is_its_last_day(text: str, expected: str) -> None:
    assert_milestones(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6 tháng đầu năm 2026", "30/06/2026"),
        ("6 tháng cuối năm 2026", "31/12/2026"),
        ("06 THÁNG ĐẦU NĂM 2027", "30/06/2027"),
        ("6 thang cuoi nam 2026", "31/12/2026"),
    ],
)
def test_a_half_is_its_last_day(text: str, expected: str) -> None:
    assert_milestones(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Năm 2026", "31/12/2026"),
        ("2026", "31/12/2026"),
        ("năm 2030.", "31/12/2030"),
        ("NĂM 2027", "31/12/2027"),
    ],
)
def test_a_year_is_its_last_day(text: str, expected: str) -> None:
    assert_milestones(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-2028", "31/12/2028"),
        ("Giai đoạn 2027 - 2028", "31/12/2028"),
        ("2026–2030", "31/12/2030"),  # en dash
        ("Giai đoạn 2026—2030", "31/12/2030"),  # em dash
        ("GIAI ĐOẠN 2026-2030", "31/12/2030"),
        ("Năm 2026 - 2027", "31/12/2027"),
    ],
)
def test_a_range_of_years_ends_with_its_last_year(text: str, expected: str) -> None:
    assert_milestones(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tháng 01 và tháng 12/2026", ("31/01/2026", "31/12/2026")),
        ("Tháng 3, tháng 6 và tháng 9/2026", ("31/03/2026", "30/06/2026", "30/09/2026")),
        ("Quý I, Quý III/2026", ("31/03/2026", "30/09/2026")),
        ("30/6/2026; 31/12/2026", ("30/06/2026", "31/12/2026")),
        ("31/12/2026; 30/6/2026", ("30/06/2026", "31/12/2026")),
        ("Quý II/2026 và 30/6/2026", ("30/06/2026",)),
        ("Tháng 11/2026 và tháng 2/2027", ("30/11/2026", "28/02/2027")),
        ("Tháng 12/2026, tháng 6 và Quý IV/2027", ("31/12/2026", "30/06/2027", "31/12/2027")),
        ("6 tháng đầu năm và 6 tháng cuối năm 2026", ("30/06/2026", "31/12/2026")),
        ("Quý IV và 31/12/2027", ("31/12/2027",)),
        ("Quý II/2026 VÀ Năm 2027", ("30/06/2026", "31/12/2027")),
        ("Tháng 6/2026, giai đoạn 2027-2028", ("30/06/2026", "31/12/2028")),
    ],
)
def test_several_milestones_in_one_cell_are_sorted_and_distinct(
    text: str, expected: tuple[str, ...]
) -> None:
    assert_milestones(text, *expected)


@pytest.mark.parametrize(
    ("text", "every", "until_year", "milestones"),
    [
        ("Thường xuyên", ReportEvery.QUARTER, None, ()),
        ("thuong xuyen.", ReportEvery.QUARTER, None, ()),
        ("Hằng năm", ReportEvery.YEAR, None, ()),
        ("Hàng năm", ReportEvery.YEAR, None, ()),
        ("Định kỳ hằng năm", ReportEvery.YEAR, None, ()),
        ("Định kỳ 6 tháng", ReportEvery.HALF, None, ()),
        ("Hằng quý", ReportEvery.QUARTER, None, ()),
        ("Định kỳ hằng quý", ReportEvery.QUARTER, None, ()),
        ("Hàng quý", ReportEvery.QUARTER, None, ()),
        ("Hằng tháng", ReportEvery.MONTH, None, ()),
        ("Thường xuyên, đến năm 2030", ReportEvery.QUARTER, 2030, ()),
        ("Thường xuyên đến hết năm 2030", ReportEvery.QUARTER, 2030, ()),
        ("Hằng năm đến 2030", ReportEvery.YEAR, 2030, ()),
        ("Đến năm 2028, hằng tháng", ReportEvery.MONTH, 2028, ()),
        ("Năm 2026 và hằng năm đến 2030", ReportEvery.YEAR, 2030, ("31/12/2026",)),
        ("Năm 2026 và hằng năm", ReportEvery.YEAR, None, ("31/12/2026",)),
        ("Quý II/2026; định kỳ 6 tháng", ReportEvery.HALF, None, ("30/06/2026",)),
        ("Năm 2030 và hằng năm đến 2030", ReportEvery.YEAR, 2030, ("31/12/2030",)),
    ],
)
def test_an_ongoing_or_periodic_task_owes_a_report_every_period(
    text: str, every: ReportEvery, until_year: int | None, milestones: tuple[str, ...]
) -> None:
    deadline = parse_deadline(text)
    assert deadline.recurrence == Recurrence(every, until_year)
    assert deadline.milestones == tuple(day(m) for m in milestones)


def test_the_final_day_of_a_periodic_task_is_the_end_of_its_last_year_or_the_horizon() -> None:
    assert parse_deadline("Năm 2026 và hằng năm đến 2030").final == date(2030, 12, 31)
    assert parse_deadline("Thường xuyên, đến năm 2027").final == date(2027, 12, 31)
    # No end year: the importer puts the plan's horizon in its place.
    assert parse_deadline("Năm 2026 và hằng năm").final is None
    assert parse_deadline("Thường xuyên").final is None


@pytest.mark.parametrize(
    "text",
    [
        "  Quý II/2026. ",
        "Tháng 01 và tháng 12/2026",
        "Thường xuyên,  đến năm 2030",
        "Quy\u0301 II/2026",  # decomposed diacritics, as some editors save them
    ],
)
def test_the_text_is_kept_as_written(text: str) -> None:
    assert parse_deadline(text).text == text


def test_decomposed_diacritics_and_the_lookalike_eth_read_the_same() -> None:
    assert parse_deadline("Quy\u0301 II/2026").milestones == (date(2026, 6, 30),)
    assert parse_deadline("\u00d0ịnh kỳ 6 tháng, \u0111ến năm 2029").recurrence == Recurrence(
        ReportEvery.HALF, 2029
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Sớm", f"'Sớm' is not a deadline: {FORMS}"),
        ("Quý II/2026, sớm nhất có thể", f"'sớm nhất có thể' is not a deadline: {FORMS}"),
        ("Tháng 5",
         "'Tháng 5' has no year: write it after the last month, quarter or half "
         "(Tháng 01 và tháng 12/2026)"),
        ("Tháng 12/2026 và tháng 6",
         "'tháng 6' has no year: write it after the last month, quarter or half "
         "(Tháng 01 và tháng 12/2026)"),
        ("Quý I và 2027-2028",
         "'Quý I' has no year: write it after the last month, quarter or half "
         "(Tháng 01 và tháng 12/2026)"),
        ("", f"The deadline is empty: {FORMS}"),
        ("   ", f"The deadline is empty: {FORMS}"),
        (" ; , ", f"The deadline is empty: {FORMS}"),
        ("31/02/2026", "'31/02/2026' is not a date: month 02/2026 has 28 days"),
        ("29/2/2027", "'29/2/2027' is not a date: month 02/2027 has 28 days"),
        ("31/4/2026", "'31/4/2026' is not a date: month 04/2026 has 30 days"),
        ("0/5/2026", "'0/5/2026' is not a date: month 05/2026 has 31 days"),
        ("12/13/2026", "'12/13/2026': there is no month 13"),
        ("Tháng 13/2026", "'Tháng 13/2026': there is no month 13"),
        ("Tháng 0/2026", "'Tháng 0/2026': there is no month 0"),
        ("Quý V/2026", "'Quý V/2026': there is no quarter V"),
        ("Quý 5/2026", "'Quý 5/2026': there is no quarter 5"),
        ("Năm 1999", "'Năm 1999': the year 1999 is outside 2000 to 2100"),
        ("2101", "'2101': the year 2101 is outside 2000 to 2100"),
        ("Tháng 5/1990", "'Tháng 5/1990': the year 1990 is outside 2000 to 2100"),
        ("2028-2027", "'2028-2027': the range ends before it starts"),
        ("Hằng năm đến 2200", "'Hằng năm đến 2200': the year 2200 is outside 2000 to 2100"),
        ("Đến năm 2030",
         "'Đến năm 2030' gives an end year without a period: write the period before it "
         "(Thường xuyên, đến năm 2030)"),
        ("Thường xuyên, hằng năm", "'Thường xuyên, hằng năm' names more than one period: keep one"),
        ("Hằng năm đến 2030, đến năm 2029",
         "'Hằng năm đến 2030, đến năm 2029' gives more than one end year: keep one"),
        ("Năm 2028 và hằng năm đến 2027",
         "'Năm 2028 và hằng năm đến 2027': the period ends in 2027, before the milestone "
         "31/12/2028"),
        ("6 tháng", f"'6 tháng' is not a deadline: {FORMS}"),
        ("Tháng 5-6/2026", f"'Tháng 5-6/2026' is not a deadline: {FORMS}"),
        ("31/12-2026", f"'31/12-2026' is not a deadline: {FORMS}"),
    ],
)  # fmt: skip
def test_a_cell_that_cannot_be_read_names_what_was_not_understood(text: str, message: str) -> None:
    with pytest.raises(DeadlineTextError) as raised:
        parse_deadline(text)
    assert str(raised.value) == message


def test_the_example_message_reads_in_full() -> None:
    with pytest.raises(DeadlineTextError) as raised:
        parse_deadline("Sớm")
    assert str(raised.value) == (
        "'Sớm' is not a deadline: write a date (31/12/2026), a month (Tháng 5/2026), a quarter "
        "(Quý II/2026), a half (6 tháng đầu năm 2026), a year (Năm 2026), a range (2027-2028) "
        "or a period (Thường xuyên, Hằng năm)"
    )


def test_a_deadline_keeps_its_milestones_sorted_and_never_empty_without_a_period() -> None:
    with pytest.raises(ValueError, match="sorted and distinct"):
        Deadline("x", (date(2026, 12, 31), date(2026, 6, 30)), None)
    with pytest.raises(ValueError, match="at least one milestone"):
        Deadline("x", (), None)
    assert Deadline("x", (), Recurrence(ReportEvery.YEAR, None)).final is None
