"""The province's indicators to and from the offices' spreadsheets, as use cases: import a
sheet (checked whole before anything is stored; a dry run stores nothing; a re-import changes
only what the sheet changed) and export a group with each indicator's status, in the board's
order. Both go through the indicators' own use cases (`services.indicators`), so an import
makes the same rows, versions and refusals as the API's POST and PATCH."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services import indicators
from services.errors import Invalid
from services.indicator_schemas import (
    IndicatorCreate,
    IndicatorPublic,
    IndicatorUpdate,
    MilestonePublic,
    SeriesStatus,
    parse_target,
    target_text,
)
from services.indicator_sheet import SheetIndicator, read_indicator_sheet
from services.indicator_sheet_export import ExportRow, write_indicator_sheet
from services.plan_schemas import RowError
from services.sheets import SheetError
from services.units import list_units, unit_directory
from vocabulary.indicators import Direction, IndicatorKind, IndicatorScope, ReportingRhythm
from vocabulary.text import without_diacritics


class ImportAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


class ImportedIndicator(BaseModel):
    row: int
    action: ImportAction
    changed: list[str] = Field(description="The fields an update changes")
    code: str
    name: str
    kind: IndicatorKind
    direction: Direction
    unit_of_measure: str
    group: str
    responsible: str
    baseline_value: float | None
    baseline_on: date | None
    milestones: list[MilestonePublic]
    partners: list[str] = Field(
        description="The data partners: unit codes, then partners outside the province as "
        "written; read but not stored (an indicator has no field for them yet)"
    )


class IndicatorImportReport(BaseModel):
    """What a sheet holds and what became of it: a dry run, or a sheet with errors, stores
    nothing (`stored` 0)."""

    dry_run: bool
    group: str | None
    stored: int = Field(description="Indicators created or updated")
    created: int
    updated: int
    unchanged: int
    indicators: list[ImportedIndicator]
    errors: list[RowError]


@dataclass(frozen=True)
class IndicatorExport:
    filename: str
    content: bytes


def _milestones(create: IndicatorCreate) -> list[MilestonePublic]:
    out = []
    for m in create.milestones:
        low, high = parse_target(m.target)
        out.append(
            MilestonePublic(
                date=m.date, target=target_text(low, high), target_low=low, target_high=high
            )
        )
    return out


def _changes(read: SheetIndicator, stored: IndicatorPublic) -> dict[str, Any]:
    """The fields the sheet changes: only what it says (its rhythm and baseline when it has
    those columns) is compared."""
    new = read.indicator
    changes: dict[str, Any] = {}
    for name in ("name", "direction", "unit_of_measure", "group", "responsible"):
        if getattr(new, name) != getattr(stored, name):
            changes[name] = getattr(new, name)
    if "rhythm" in read.states and new.rhythm != stored.rhythm:
        changes["rhythm"] = new.rhythm
    if "baseline" in read.states and new.baseline_value != stored.baseline_value:
        changes["baseline_value"] = new.baseline_value
    if new.baseline_on is not None and new.baseline_on != stored.baseline_on:
        changes["baseline_on"] = new.baseline_on
    before = [(m.date, m.target_low, m.target_high) for m in stored.milestones]
    after = [(m.date, m.target_low, m.target_high) for m in _milestones(new)]
    if before != after:
        changes["milestones"] = new.milestones
    return changes


def _stored_errors(read: SheetIndicator, stored: IndicatorPublic | None) -> list[SheetError]:
    """What the stored indicator of the same code forbids: another group's indicator, or one
    of another kind or scope (neither ever changes)."""
    if stored is None:
        return []
    new = read.indicator
    code = new.code
    if stored.group != new.group:
        return [
            SheetError(
                read.row,
                "",
                f'The code {code} is the indicator "{stored.name}" of the group "{stored.group}":'
                " give this row its own code under Mã chỉ tiêu",
            )
        ]
    if stored.kind is not new.kind:
        return [
            SheetError(
                read.row,
                "",
                f"Indicator {code} is a {stored.kind.value}; the sheet reads it as a "
                f"{new.kind.value}, and a kind never changes",
            )
        ]
    if stored.scope is not IndicatorScope.PROVINCE:
        return [
            SheetError(
                read.row,
                "",
                f"Indicator {code} is {stored.scope.value}-scoped: the sheet sets the province's",
            )
        ]
    return []


def _imported(read: SheetIndicator, action: ImportAction, changed: list[str]) -> ImportedIndicator:
    new = read.indicator
    return ImportedIndicator(
        row=read.row,
        action=action,
        changed=changed,
        code=new.code,
        name=new.name,
        kind=new.kind,
        direction=new.direction,
        unit_of_measure=new.unit_of_measure,
        group=new.group,
        responsible=new.responsible,
        baseline_value=new.baseline_value,
        baseline_on=new.baseline_on,
        milestones=_milestones(new),
        partners=[*read.partners.units, *read.partners.outside],
    )


async def import_indicators(
    session: AsyncSession, content: bytes, group: str | None, dry_run: bool, now: datetime
) -> IndicatorImportReport:
    """Read the office's .xlsx into indicators of a group. The whole sheet, and what is stored
    under its codes, is checked first: a sheet with any error is refused whole (Invalid, every
    error in its state). A dry run answers what would be created and updated and stores
    nothing. An indicator already stored with the same content is left alone; a changed one is
    updated (a new version when its milestones or direction change)."""
    sheet = read_indicator_sheet(content, await unit_directory(session), group)
    stored = {i.code: i for i in (await indicators.list_indicators(session)).data}
    errors = list(sheet.errors)
    imported: list[tuple[SheetIndicator, ImportedIndicator, dict[str, Any]]] = []
    for read in sheet.indicators:
        found = stored.get(read.indicator.code)
        clash = _stored_errors(read, found)
        if clash:
            errors.extend(clash)
            continue
        changes = {} if found is None else _changes(read, found)
        action = (
            ImportAction.CREATE
            if found is None
            else ImportAction.UPDATE
            if changes
            else ImportAction.UNCHANGED
        )
        imported.append((read, _imported(read, action, sorted(changes)), changes))
    errors.sort(key=lambda e: e.row)
    listed = [entry for _, entry, _ in imported]
    report = IndicatorImportReport(
        dry_run=dry_run,
        group=group,
        stored=0,
        created=sum(e.action is ImportAction.CREATE for e in listed),
        updated=sum(e.action is ImportAction.UPDATE for e in listed),
        unchanged=sum(e.action is ImportAction.UNCHANGED for e in listed),
        indicators=listed,
        errors=[RowError(row=e.row, column=e.column, message=e.message) for e in errors],
    )
    if dry_run:
        return report
    if errors:
        raise Invalid(
            f"the file has {len(errors)} error{'s' if len(errors) > 1 else ''}; nothing was "
            "stored: correct them and send it again",
            details={"errors": [e.model_dump() for e in report.errors]},
        )
    stored_count = 0
    # One indicator at a time through the indicators' own use cases: each commits on its own,
    # and the sheet was checked whole first, so only a race with another office's change of
    # the same code can stop it half-way (that indicator answers 409; a second send finishes).
    for read, entry, changes in imported:
        if entry.action is ImportAction.CREATE:
            await indicators.create_indicator(session, read.indicator, now)
            stored_count += 1
        elif entry.action is ImportAction.UPDATE:
            update = IndicatorUpdate(**changes)
            await indicators.update_indicator(session, read.indicator.code, update, now)
            stored_count += 1
    return report.model_copy(update={"stored": stored_count})


def export_filename(group: str | None) -> str:
    """The file's name from the group, in letters a download header carries."""
    plain = "-".join(without_diacritics(group or "").split())
    kept = "".join(c for c in plain if c.isascii() and (c.isalnum() or c == "-")).strip("-")
    return f"chi-tieu-{kept.lower()}" if kept else "chi-tieu"


def _worst(series: list[SeriesStatus]) -> SeriesStatus | None:
    order = {colour: place for place, colour in enumerate(indicators.COLOUR_ORDER)}
    return min(
        series,
        key=lambda s: (order[s.colour], s.days_left if s.days_left is not None else 10**9),
        default=None,
    )


async def export_indicators(
    session: AsyncSession, group: str | None, now: datetime
) -> IndicatorExport:
    """The indicators (of a group) in the offices' format with their status, in the board's
    order, worst first. The status columns are those of the series that gives the indicator
    its colour (the province's own, or the worst commune's or agency's)."""
    board = await indicators.board(session, group, now)
    names = {u.code: u.name for u in (await list_units(session)).data}
    rows = []
    for entry in board.indicators:
        status = await indicators.read_indicator(session, entry.code, now)
        worst = _worst(status.series)
        rows.append(
            ExportRow(
                code=status.code,
                group=status.group,
                name=status.name,
                kind=status.kind,
                direction=status.direction,
                unit_of_measure=status.unit_of_measure,
                baseline_value=status.baseline_value,
                targets={m.date: (m.target_low, m.target_high) for m in status.milestones},
                responsible=names.get(status.responsible, status.responsible),
                rhythm=ReportingRhythm(status.rhythm),
                colour=entry.colour,
                projected_on=worst.projected_on if worst else None,
                pace_per_month=worst.pace_per_month if worst else None,
                pace_required_per_month=worst.pace_required_per_month if worst else None,
                latest_value=worst.latest_value if worst else None,
                latest_on=worst.latest_on if worst else None,
                days_left=entry.days_left,
            )
        )
    return IndicatorExport(f"{export_filename(group)}.xlsx", write_indicator_sheet(rows))
