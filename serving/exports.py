"""The ranking and a scorecard as CSV (UTF-8 with a byte-order mark, so Excel reads the
Vietnamese names right) and as Excel workbooks (openpyxl): numbers stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font

from scoring.engine import Scorecard
from services.sheets import append_row

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The roll-up figures every ranking export carries, in this order.
FIGURES = (
    "received",
    "completed_on_time",
    "completed_late",
    "overdue_now",
    "acknowledged_in_time",
    "escalated",
    "returned_for_rework",
    "extension_asked",
    "extension_granted",
)


def ranking_table(cards: Sequence[Scorecard]) -> tuple[list[str], list[list[Any]]]:
    keys = [i.key for i in cards[0].indicators] if cards else []
    header = [
        "rank",
        "commune_code",
        "name",
        "score",
        "band",
        "band_label_vi",
        *(f"{k}_value" for k in keys),
        *(f"{k}_colour" for k in keys),
        *FIGURES,
    ]
    rows = []
    for c in cards:
        by_key = {i.key: i for i in c.indicators}
        rows.append(
            [
                c.rank,
                c.commune_code,
                c.name,
                c.score,
                c.band,
                c.band_label_vi,
                *(by_key[k].value for k in keys),
                *(by_key[k].colour for k in keys),
                *(c.figures.get(f, 0) for f in FIGURES),
            ]
        )
    return header, rows


def _record_id(record: dict[str, Any]) -> str:
    """An assignment by its bare id (as before); other records as `dossier-12`, `feedback-5`
    (the case ids of the notifications), `obligation_period-3`."""
    if "assignment_id" in record:
        return str(record["assignment_id"])
    name, value = next((k, v) for k, v in record.items() if k.endswith("_id"))
    return f"{name.removesuffix('_id')}-{value}"


def scorecard_table(card: Scorecard) -> tuple[list[str], list[list[Any]]]:
    header = [
        "indicator",
        "label_vi",
        "count",
        "of",
        "value",
        "colour",
        "max_points",
        "points",
        "points_lost",
        "assignment_ids",
        "rule",
    ]
    behind = {
        e["indicator"]: " ".join(_record_id(a) for a in e["assignments"]) for e in card.explanation
    }
    rows = [
        [
            i.key,
            i.label_vi,
            i.count,
            i.of,
            i.value,
            i.colour,
            i.max_points,
            i.points,
            i.points_lost,
            behind.get(i.key, ""),
            i.rule,
        ]
        for i in card.indicators
    ]
    return header, rows


def csv_response(header: list[str], rows: list[list[Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type=CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def xlsx_response(sheets: list[tuple[str, list[str], list[list[Any]]]], filename: str) -> Response:
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            append_row(sheet, row)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )


def ranking_download(
    cards: Sequence[Scorecard], period_key: str, rules_version: str, format: str
) -> Response:
    """The ranking as a file to download: CSV, or else an Excel workbook."""
    header, rows = ranking_table(cards)
    name = f"xep-hang-{period_key}-{rules_version}"
    if format == "csv":
        return csv_response(header, rows, name)
    return xlsx_response([("Xếp hạng", header, rows)], name)
