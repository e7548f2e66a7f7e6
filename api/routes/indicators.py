"""The province's indicators: targets with milestones, the values reported against them and
the office's verification, each indicator's colour against its next milestone, the board of
the committee, and the "what if" scenario.

Every signed-in role reads the indicators and the board; the steering office sets them, reports
and verifies; a commune leader reports their own commune's values on a commune-scoped indicator,
which wait for the office. "Today" comes from one dependency (`clock`), which a test replaces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from temporalio.client import Client

from api.deps import CurrentUser, OfficeUser
from config import Settings
from services import indicator_reporting, indicators
from services.indicator_schemas import (
    IndicatorBoard,
    IndicatorCreate,
    IndicatorPeriodPublic,
    IndicatorPeriodsPublic,
    IndicatorPublic,
    IndicatorsPublic,
    IndicatorStatus,
    IndicatorUpdate,
    PeriodOpen,
    ScenarioAnswer,
    ScenarioRequest,
    ValueCreate,
    ValuePublic,
    ValueVerify,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep, get_temporal

router = APIRouter(prefix="/indicators", tags=["indicators"])


async def clock() -> datetime:
    """The moment an indicator is judged at: now."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(clock)]


async def temporal_if_reachable(request: Request) -> Client | None:
    """The workflow engine for what follows a stored change (a reporting task, a schedule),
    None while it cannot be reached: the indicator or the value is stored all the same, and
    the office's verification or the reconciler catches up later."""
    try:
        return await get_temporal(request)
    except HTTPException:
        return None


MaybeTemporal = Annotated[Client | None, Depends(temporal_if_reachable)]
ValueId = Annotated[int, Path(ge=1, le=2**31 - 1)]
GroupQuery = Annotated[str | None, Query(max_length=200, description="Only this group's")]


@router.get("")
async def list_indicators(
    user: CurrentUser, session: SessionDep, group: GroupQuery = None
) -> IndicatorsPublic:
    """The indicators with their milestones, by group and code."""
    return await indicators.list_indicators(session, group)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_indicator(
    payload: IndicatorCreate,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
    temporal: MaybeTemporal,
    settings: SettingsDep,
) -> IndicatorPublic:
    """Add an indicator with its milestones (steering office); a taken code answers 409. A
    commune-scoped one gets the schedule that opens each of its reporting periods."""
    created = await indicators.create_indicator(session, payload, now)
    await _keep_schedule(temporal, settings, created)
    return created


async def _keep_schedule(
    temporal: Client | None, settings: Settings, indicator: IndicatorPublic
) -> None:
    if temporal is None:
        return
    await indicator_reporting.keep_schedule_quietly(
        temporal,
        settings,
        indicator.code,
        indicator.scope.value,
        indicator.rhythm.value,
        indicator.source.value,
    )


# Before `/{code}`: "board" is not an indicator's code.
@router.get("/board")
async def get_board(
    user: CurrentUser, session: SessionDep, now: NowDep, group: GroupQuery = None
) -> IndicatorBoard:
    """The counts by colour and every indicator's next milestone and days left, worst first:
    red, yellow, grey, green, then the fewest days left; the red and yellow ones with their
    responsible units."""
    return await indicators.board(session, group, now)


@router.get("/{code}")
async def get_indicator(
    code: str, user: CurrentUser, session: SessionDep, now: NowDep
) -> IndicatorStatus:
    """An indicator, its milestones and values, and its colour against the next milestone for
    the province or each commune or agency: the projected date, the pace so far and the pace
    required per month, and the values the projection used."""
    return await indicators.read_indicator(session, code, now)


@router.patch("/{code}")
async def update_indicator(
    code: str,
    payload: IndicatorUpdate,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
    temporal: MaybeTemporal,
    settings: SettingsDep,
) -> IndicatorPublic:
    """Change an indicator (steering office). New milestones or a new direction make a new
    version; a new rhythm moves the schedule that opens its periods, and a computed source
    removes it."""
    updated = await indicators.update_indicator(session, code, payload, now)
    if payload.rhythm is not None or payload.source is not None:
        await _keep_schedule(temporal, settings, updated)
    return updated


@router.post("/{code}/values", status_code=status.HTTP_201_CREATED)
async def record_value(
    code: str,
    payload: ValueCreate,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    temporal: MaybeTemporal,
    settings: SettingsDep,
) -> ValuePublic:
    """Report a value. The steering office's is accepted at once; a commune leader's, for their
    own commune, waits for verification. A correction names the value it `supersedes`. A
    commune's value for a day inside an opened period reports that commune's reporting task."""
    value = await indicators.record_value(session, user, code, payload, now)
    if temporal is not None:
        await indicator_reporting.report_value(session, temporal, settings, user, value)
    return value


@router.post("/{code}/values/{value_id}/verify")
async def verify_value(
    code: str,
    value_id: ValueId,
    payload: ValueVerify,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
    temporal: MaybeTemporal,
    settings: SettingsDep,
) -> ValuePublic:
    """Accept a submitted value, or return it with a reason (steering office); the commune's
    reporting task for the period is accepted or returned with it."""
    value = await indicators.verify_value(session, user, code, value_id, payload, now)
    if temporal is not None:
        await indicator_reporting.review_value(session, temporal, settings, user, value)
    return value


@router.post("/{code}/periods", status_code=status.HTTP_201_CREATED)
async def open_period(
    code: str,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    payload: PeriodOpen | None = None,
) -> IndicatorPeriodPublic:
    """Open a reporting period (steering office): the one that ended last, or the one starting
    on `period_start`. A commune-scoped indicator's period gives each commune a reporting task
    due at the report-by time, reminded before it and escalated once late; a province's opens
    none (the office reports it); an agency's answers 409. Opening it again answers the same
    period with `Idempotent-Replayed`."""
    period, created = await indicator_reporting.open_period(
        session,
        temporal,
        settings,
        code,
        payload.period_start if payload else None,
        user.actor,
        now,
    )
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return period


@router.get("/{code}/periods")
async def list_periods(code: str, user: CurrentUser, session: SessionDep) -> IndicatorPeriodsPublic:
    """An indicator's reporting periods, newest first, with their tasks counted: reported,
    accepted, late (reported after the report-by time) and missing."""
    return await indicator_reporting.list_periods(session, code)


@router.post("/{code}/scenario")
async def run_scenario(
    code: str, payload: ScenarioRequest, user: CurrentUser, session: SessionDep, now: NowDep
) -> ScenarioAnswer:
    """What if: the date a pace per month reaches the next milestone's target, or the pace a
    target date needs. Nothing is stored."""
    return await indicators.scenario(session, code, payload, now)
