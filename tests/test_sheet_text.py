"""Text pasted with control characters (a "\\x1e" copied from another office system) in the
downloads: XML 1.0, and so a worksheet, has no place for them, and one such cell failed the whole
download with a 500 (the indicators' export, found by the conformance fuzzer). Every writer of a
worksheet leaves them out and keeps the rest of the text."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook

from services.indicator_sheet_export import ExportRow, write_indicator_sheet
from services.sheets import writable
from serving.exports import xlsx_response
from vocabulary.indicators import Colour, Direction, IndicatorKind, ReportingRhythm


def test_control_characters_are_left_out_and_other_values_kept() -> None:
    assert writable("Tỉ lệ\x1e hồ sơ\x00 trực tuyến\x7f") == "Tỉ lệ hồ sơ trực tuyến\x7f"
    assert writable("dòng 1\ndòng 2\tcột") == "dòng 1\ndòng 2\tcột"
    assert writable(12.5) == 12.5
    assert writable(None) is None


def test_the_indicators_export_writes_a_name_holding_a_control_character() -> None:
    row = ExportRow(
        code="CT-01\x1e",
        group="Chính quyền số",
        name="Tỉ lệ hồ sơ\x1e trực tuyến",
        kind=IndicatorKind.PERCENT,
        direction=Direction.INCREASE,
        unit_of_measure="%",
        baseline_value=40.0,
        targets={date(2027, 12, 31): (80.0, 80.0)},
        responsible="Sở Nội vụ\x02",
        rhythm=ReportingRhythm.QUARTERLY,
        colour=Colour.GREY,
        projected_on=None,
        pace_per_month=None,
        pace_required_per_month=None,
        latest_value=None,
        latest_on=None,
        days_left=None,
    )
    sheet = load_workbook(io.BytesIO(write_indicator_sheet([row]))).worksheets[0]
    values = [c.value for c in sheet[2]]
    assert "Tỉ lệ hồ sơ trực tuyến" in values
    assert "CT-01" in values and "Sở Nội vụ" in values


def test_a_ranking_download_writes_a_name_holding_a_control_character() -> None:
    answer = xlsx_response([("Xếp hạng", ["name"], [["Phường\x1e Buôn Ma Thuột"]])], "x")
    sheet = load_workbook(io.BytesIO(bytes(answer.body))).worksheets[0]
    assert sheet["A2"].value == "Phường Buôn Ma Thuột"
