"""The working group's focus indicators as an office keeps them in a spreadsheet: a title above
the header, a group's heading row, one indicator a row with its unit, the current figure, a
target under each milestone ("Đến hết năm 2026", "Đến năm 2030") written the ways offices write
them (a percentage typed as 14% and stored by Excel as 0.14, "≥ 80%", "Duy trì ≥ 98%", "Tăng ít
nhất 3 bậc"), the lead unit and the units that supply the figures. And the same sheet broken in
every way the import must name."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

GROUP = "Tổ công tác: chỉ tiêu trọng tâm"
# The codes the import makes from the group's initials and the STT.
PREFIX = "TCTCTTT"
HEADER = (
    "STT",
    "Chỉ tiêu",
    "Đơn vị tính",
    "Hiện trạng năm 2025",
    "Đến hết năm 2026",
    "Đến năm 2030",
    "Đơn vị chủ trì",
    "Đơn vị phối hợp, cung cấp số liệu",
)
# A float stands for a cell Excel shows as a percentage (number format 0%).
Cell = str | int | float | None
ROWS: tuple[tuple[Cell, ...], ...] = (
    ("I", "CHỈ TIÊU TRỌNG TÂM", None, None, None, None, None, None),
    (
        1,
        "Tỷ trọng kinh tế số trong GRDP của tỉnh",
        "%",
        None,
        0.14,
        0.3,
        "Sở Khoa học và Công nghệ",
        "Thống kê tỉnh; Sở Tài chính",
    ),
    (
        2,
        "Tỷ lệ hồ sơ thủ tục hành chính được tiếp nhận, giải quyết trực tuyến",
        "%",
        None,
        "≥ 80%",
        "100%",
        "Văn phòng UBND tỉnh",
        "Sở KH&CN; Trung tâm Phục vụ hành chính công tỉnh",
    ),
    (
        3,
        "Chỉ số hài lòng của người dân, doanh nghiệp về sự phục vụ của cơ quan hành chính (SIPAS)",
        "%",
        None,
        "Duy trì ≥ 98%",
        "Duy trì ≥ 98%",
        "Sở Nội vụ",
        "Văn phòng UBND tỉnh",
    ),
    (
        4,
        "Chỉ số cải cách hành chính (PAR Index) của tỉnh",
        "Hạng",
        "Hạng 12/34",
        "Tăng ít nhất 3 bậc",
        None,
        "Sở Nội vụ",
        "Các sở, ban, ngành",
    ),
    (
        5,
        "Tỷ lệ lao động trong độ tuổi có kỹ năng số cơ bản (ICT)",
        "%",
        None,
        None,
        "70%",
        "Sở GD&ĐT",
        "Sở Nội vụ; Thống kê tỉnh",
    ),
)
# Rows 1 and 2 hold the title and a blank, row 3 the header, row 4 the heading "I".
FIRST_ROW = 5

# The broken sheet: what each row breaks, by its row in the sheet.
BROKEN_ROWS: tuple[tuple[Cell, ...], ...] = (
    # 4: no indicator's name, and a target that is not one.
    (1, None, "%", None, "khoảng 14%", "30%", "Sở KH&CN", None),
    # 5: a percentage above 100.
    (2, "Tỷ lệ hồ sơ trực tuyến", "%", None, "120%", "100%", "Văn phòng UBND tỉnh", None),
    # 6: a rise of places with no current rank, and a lead unit outside the province.
    (3, "Chỉ số PAR Index", "Hạng", None, "Tăng ít nhất 3 bậc", None, "Viettel Đắk Lắk", None),
    # 7: no target at all.
    (4, "Chỉ số SIPAS", "%", None, None, None, "Sở Nội vụ", None),
    # 8: the STT of row 5 again.
    (2, "Tỷ lệ lao động có kỹ năng số", "%", None, "50%", "70%", "Sở GD&ĐT", None),
)


def workbook(rows: Sequence[Sequence[Cell]] = ROWS, header: Sequence[str] = HEADER) -> bytes:
    """The sheet as the office saves it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Chỉ tiêu"
    sheet.append(["CÁC CHỈ TIÊU TRỌNG TÂM CỦA TỔ CÔNG TÁC CHUYỂN ĐỔI SỐ TỈNH"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet["A1"].font = Font(bold=True)
    sheet.append([])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, float):
                cell.number_format = "0%"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def broken_workbook() -> bytes:
    return workbook(BROKEN_ROWS)
