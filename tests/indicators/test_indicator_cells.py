"""The cells of the offices' indicator sheet as the import reads them: milestone headers to
days, target cells to figures and the way they must move, a group to the start of its codes."""

from __future__ import annotations

from datetime import date

import pytest

from services.indicator_cells import group_prefix, milestone_date, read_target
from services.indicator_sheet_export import milestone_header
from vocabulary.deadline_text import DeadlineTextError
from vocabulary.indicators import Direction


@pytest.mark.parametrize(
    ("header", "day"),
    [
        ("Đến hết năm 2026", date(2026, 12, 31)),
        ("Đến năm 2030", date(2030, 12, 31)),
        ("Mục tiêu đến hết năm 2027", date(2027, 12, 31)),
        ("Quý II/2026", date(2026, 6, 30)),
        ("Tháng 6/2026", date(2026, 6, 30)),
        ("Đến hết tháng 2/2028", date(2028, 2, 29)),
        ("Đến ngày 15/06/2026", date(2026, 6, 15)),
        ("Năm 2026", date(2026, 12, 31)),
        ("Ngày số liệu", None),
        ("Ghi chú", None),
    ],
)
def test_a_milestone_header_names_its_day(header: str, day: date | None) -> None:
    assert milestone_date(header) == day


def test_a_header_that_starts_like_a_milestone_but_is_not_one_is_an_error() -> None:
    with pytest.raises(DeadlineTextError, match='"Đến cuối kỳ" is not a milestone'):
        milestone_date("Đến cuối kỳ")


@pytest.mark.parametrize(
    "day", [date(2026, 12, 31), date(2026, 6, 30), date(2028, 2, 29), date(2026, 6, 15)]
)
def test_the_export_heads_a_milestone_so_the_import_reads_it_back(day: date) -> None:
    assert milestone_date(milestone_header(day)) == day


@pytest.mark.parametrize(
    ("cell", "figures"),
    [
        ("14%", (14, 14, True, None, None)),
        ("≥ 80%", (80, 80, True, Direction.INCREASE, None)),
        (">=80 %", (80, 80, True, Direction.INCREASE, None)),
        ("Duy trì ≥ 98%", (98, 98, True, Direction.INCREASE, None)),
        ("Tối thiểu 60", (60, 60, False, Direction.INCREASE, None)),
        ("≤ 5", (5, 5, False, Direction.DECREASE, None)),
        ("Không quá 3 ngày", None),
        ("51-52", (51, 52, False, None, None)),
        ("51 – 52", (51, 52, False, None, None)),
        ("14,5%", (14.5, 14.5, True, None, None)),
        ("100%", (100, 100, True, None, None)),
        ("Tăng ít nhất 3 bậc", (0, 0, False, None, 3)),
        ("Tăng 2 bậc", (0, 0, False, None, 2)),
        ("Hạng 9", (9, 9, False, None, None)),
        ("Top 10", (10, 10, False, None, None)),
    ],
)
def test_a_target_cell_is_read_as_offices_write_it(
    cell: str, figures: tuple[float, float, bool, Direction | None, int | None] | None
) -> None:
    if figures is None:
        with pytest.raises(ValueError, match="is not a target"):
            read_target(cell)
        return
    target = read_target(cell)
    read = (target.low, target.high, target.percent, target.direction, target.rank_up)
    assert read == figures


def test_a_range_from_high_to_low_and_a_met_criterion() -> None:
    with pytest.raises(ValueError, match="runs from high to low"):
        read_target("52–51")
    met = read_target("Đạt")
    assert (met.low, met.high, met.met) == (1, 1, True)


@pytest.mark.parametrize(
    ("group", "prefix"),
    [
        ("Tổ công tác: chỉ tiêu trọng tâm", "TCTCTTT"),
        ("Kế hoạch 02 giai đoạn 2", "KH02GD2"),
        ("", "CT"),
    ],
)
def test_a_group_gives_its_codes_their_start(group: str, prefix: str) -> None:
    assert group_prefix(group) == prefix
