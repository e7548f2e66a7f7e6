"""The province's indicators to and from the offices' spreadsheets: the steering office imports
a group's indicators from an .xlsx, and every signed-in role exports them with their status.
Registered before the indicators' own routes, so "export" and "import" are not read as an
indicator's code."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from api.deps import CurrentUser, OfficeUser
from api.routes.indicators import NowDep
from services import indicator_transfer
from services.errors import Invalid
from services.indicator_transfer import IndicatorImportReport
from serving.deps import SessionDep
from serving.exports import XLSX_TYPE

router = APIRouter(prefix="/indicators", tags=["indicators"])

GROUP_DESCRIPTION = 'The group, as the board reads it: "Tổ công tác: chỉ tiêu trọng tâm"'


@router.post("/import")
async def import_indicators(
    file: Annotated[UploadFile, File(description="The indicators as an .xlsx")],
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
    group: Annotated[str | None, Query(max_length=200, description=GROUP_DESCRIPTION)] = None,
    group_field: Annotated[
        str | None,
        Form(alias="group", max_length=200, description="The group, as a field of the form"),
    ] = None,
    dry_run: Annotated[bool, Query(description="Answer the report and store nothing")] = False,
) -> IndicatorImportReport:
    """Read the first sheet (steering office): `STT`, `Chỉ tiêu`, `Đơn vị tính`, one column
    per milestone headed by its date ("Đến hết năm 2026"), `Đơn vị chủ trì`, `Đơn vị phối hợp,
    cung cấp số liệu`, and optionally `Mã chỉ tiêu`, `Hiện trạng`, `Kỳ báo cáo`. Every row
    takes the group given (the query's or the form's; else the row's `Nhóm`). The sheet is
    checked whole: any error answers 422 with every error by row and column in
    `state.errors`, and nothing is stored. With `dry_run=true` the report says what would be
    created, updated or left unchanged, and nothing is stored. Importing the same sheet again
    changes nothing."""
    if group is not None and group_field is not None and group != group_field:
        raise Invalid("the group is given twice, two ways: give it once")
    content = await file.read()
    return await indicator_transfer.import_indicators(
        session, content, group if group is not None else group_field, dry_run, now
    )


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "The indicators as an .xlsx"}},
)
async def export_indicators(
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    group: Annotated[str | None, Query(max_length=200, description="Only this group's")] = None,
    format: Literal["xlsx"] = "xlsx",
) -> Response:
    """The indicators in the offices' format, worst first as on the board: the import's
    columns, then the colour, the projected date, the pace so far and required per month,
    the latest accepted value and its date, and the days to the next milestone."""
    export = await indicator_transfer.export_indicators(session, group, now)
    return Response(
        export.content,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )
