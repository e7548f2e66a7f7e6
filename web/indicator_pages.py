"""The indicators' pages: the committee's board (the counts by colour, days to the next
milestone, worst first), an indicator's page with its status, pace and trend chart, the office's
verification queue, and the reporting form of a unit. Every read and action goes through the use
cases the API's routes call (`services.indicators`), with the signed-in person as principal.

Who sees what: the steering office, officials in charge and readers see every indicator and the
board; an official in charge sees the series of the communes they answer for. A commune leader
sees the commune-scoped indicators and, on each, their own commune's series only; they report
their commune's values, which wait for the office. The office verifies and reports for any
unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.communes import DAK_LAK
from db.models import Commune, Unit
from db.models.indicators import Indicator, IndicatorValue
from scoring.periods import vietnam_today
from services import indicator_reporting, indicators
from services.errors import ServiceError
from services.indicator_schemas import (
    BoardEntry,
    ColourCounts,
    IndicatorBoard,
    IndicatorStatus,
    SeriesStatus,
    ValueCreate,
    ValuePublic,
    ValueStatus,
    ValueVerify,
)
from serving.deps import SessionDep, SettingsDep, TemporalDep
from serving.error_status import status_of
from vocabulary.indicators import Colour, IndicatorKind, IndicatorScope, IndicatorSource
from vocabulary.roles import Role
from web import svg_chart
from web.errors import refusal
from web.render import language_of, render
from web.sessions import OfficeWeb, PageRefused, SignedIn, WebUser, check_csrf

router = APIRouter(include_in_schema=False)
# The queue shows the oldest waiting values; beyond this many the office works down the list.
QUEUE_LIMIT = 200
# Communes named beside an indicator on the board before "and n more".
UNITS_SHOWN = 8
_SEVERITY = {c: i for i, c in enumerate(indicators.COLOUR_ORDER)}

COLOUR_WORDS: dict[str, tuple[str, str]] = {
    Colour.GREEN: ("Đúng tiến độ", "On track"),
    Colour.YELLOW: ("Trễ không quá một kỳ", "Late by up to one period"),
    Colour.RED: ("Không kịp", "Off track"),
    Colour.GREY: ("Chưa đủ số liệu", "Not enough data"),
}
STATUS_WORDS: dict[str, tuple[str, str]] = {
    ValueStatus.SUBMITTED: ("Chờ xác minh", "Waiting for verification"),
    ValueStatus.ACCEPTED: ("Đã chấp nhận", "Accepted"),
    ValueStatus.RETURNED: ("Trả lại", "Returned"),
}


async def clock() -> datetime:
    """The moment the pages judge an indicator at: now. Tests replace it with a fixed day."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(clock)]


# --- reads the pages need beyond the use cases ----------------------------------------------


async def unit_names(session: AsyncSession) -> dict[str, str]:
    """The province's communes and agencies by code, to name a series."""
    communes = await session.execute(
        select(Commune.code, Commune.name).where(Commune.province_code == str(DAK_LAK))
    )
    agencies = await session.execute(select(Unit.code, Unit.name))
    return {code: name for code, name in [*communes, *agencies]}


async def groups(session: AsyncSession) -> list[str]:
    rows = await session.scalars(select(Indicator.group).distinct().order_by(Indicator.group))
    return [g for g in rows if g]


@dataclass(frozen=True)
class Waiting:
    value: IndicatorValue
    indicator_name: str
    unit_of_measure: str


async def waiting_values(session: AsyncSession) -> tuple[list[Waiting], int]:
    """Values submitted by the units and not yet verified, the oldest first, and how many there
    are in all."""
    submitted = IndicatorValue.status == ValueStatus.SUBMITTED.value
    total = await session.scalar(select(func.count(IndicatorValue.id)).where(submitted))
    rows = await session.execute(
        select(IndicatorValue, Indicator.name, Indicator.unit_of_measure)
        .join(Indicator, Indicator.code == IndicatorValue.indicator_code)
        .where(submitted)
        .order_by(IndicatorValue.reported_at, IndicatorValue.id)
        .limit(QUEUE_LIMIT)
    )
    return [Waiting(v, name, unit) for v, name, unit in rows], int(total or 0)


# --- what a person may see --------------------------------------------------------------------


def _is_leader(user: WebUser) -> bool:
    return user.principal.role is Role.COMMUNE_LEADER


def visible_series(user: WebUser, found: IndicatorStatus) -> list[SeriesStatus]:
    """The series this person may read: a commune-scoped indicator's communes within their
    scope (a leader's own, an official's), every series otherwise."""
    if found.scope is not IndicatorScope.COMMUNE:
        return list(found.series)
    return [s for s in found.series if user.principal.may_see(s.unit_code)]


async def _readable(session: AsyncSession, user: WebUser, code: str, now: datetime) -> Any:
    try:
        found = await indicators.read_indicator(session, code, now)
    except ServiceError as e:
        raise refusal(e) from e
    # A leader has no series on a province's or an agency's indicator: it is not theirs to see,
    # and is answered as a missing one.
    if _is_leader(user) and found.scope is not IndicatorScope.COMMUNE:
        raise PageRefused(404, f"indicator {code} not found")
    return found


async def leader_board(
    session: AsyncSession, user: WebUser, group: str | None, now: datetime
) -> IndicatorBoard:
    """The board a commune leader sees: the commune-scoped indicators, each coloured by their
    own commune's series, worst first as the province's board is."""
    listed = await indicators.list_indicators(session, group)
    entries = []
    for item in listed.data:
        if item.scope is not IndicatorScope.COMMUNE:
            continue
        found = await indicators.read_indicator(session, item.code, now)
        own = next((s for s in found.series if s.unit_code == user.commune_code), None)
        if own is None or own.unit_code is None:
            continue
        entries.append(
            BoardEntry(
                code=found.code,
                name=found.name,
                group=found.group,
                colour=own.colour,
                next_milestone=found.next_milestone,
                days_left=(
                    (found.next_milestone.date - found.today).days if found.next_milestone else None
                ),
                responsible=found.responsible,
                units=[own.unit_code] if own.colour in (Colour.RED, Colour.YELLOW) else [],
                reason_en=own.reason_en,
                reason_vi=own.reason_vi,
            )
        )
    entries.sort(
        key=lambda e: (
            _SEVERITY[e.colour],
            e.days_left if e.days_left is not None else 10**9,
            e.code,
        )
    )
    colours = [e.colour for e in entries]
    return IndicatorBoard(
        group=group,
        today=vietnam_today(now),
        counts=ColourCounts(**{c.value: colours.count(c) for c in indicators.COLOUR_ORDER}),
        indicators=entries,
        attention=[e for e in entries if e.colour in (Colour.RED, Colour.YELLOW)],
    )


# --- words and figures ------------------------------------------------------------------------


def _words(lang: str) -> dict[str, Any]:
    """Helpers the templates share: a colour's and a status's words, a day, a figure, a pace."""
    index = 0 if lang == "vi" else 1

    def number(value: float | None, signed: bool = False) -> str:
        if value is None:
            return "—"
        text = f"{value:+.4f}" if signed else f"{value:.4f}"
        text = text.rstrip("0").rstrip(".")
        return text.replace(".", ",") if lang == "vi" else text

    def day(value: date | None) -> str:
        if value is None:
            return "—"
        return value.strftime("%d/%m/%Y") if lang == "vi" else value.isoformat()

    return {
        "colour_word": lambda c: COLOUR_WORDS[c][index],
        "status_word": lambda s: STATUS_WORDS[s][index],
        "number": number,
        "day": day,
    }


def _links(evidence: str) -> list[tuple[str, bool]]:
    """The evidence line by line, each marked when it is a web address to link to."""
    return [
        (line, line.startswith(("https://", "http://")))
        for line in (raw.strip() for raw in evidence.splitlines())
        if line
    ]


# --- the chart --------------------------------------------------------------------------------


def counting_points(values: list[ValuePublic], unit_code: str | None) -> list[tuple[date, float]]:
    """A series' counting values, one a day (the one reported last, as the status reads them)."""
    by_day: dict[date, tuple[int, float]] = {}
    for v in values:
        later = v.as_of not in by_day or by_day[v.as_of][0] < v.id
        if v.counts and v.unit_code == unit_code and later:
            by_day[v.as_of] = (v.id, v.value)
    return sorted((d, figure) for d, (_, figure) in by_day.items())


def chart_for(found: IndicatorStatus, series: SeriesStatus) -> svg_chart.TrendChartInput:
    """The chart of one series: its counting values, the indicator's milestones, and the trend
    through the values the projection used, drawn to the next milestone's day."""
    points = counting_points(found.values, series.unit_code)
    used = [(d, v) for d, v in points if d in set(series.projected_from)]
    projection = None
    if found.kind is not IndicatorKind.YES_NO and found.next_milestone is not None:
        projection = svg_chart.trend_line(used, found.next_milestone.date)
    return svg_chart.TrendChartInput(
        values=tuple(points),
        milestones=tuple(
            svg_chart.ChartMilestone(m.date, m.target_low, m.target_high) for m in found.milestones
        ),
        projection=projection,
    )


def chart_markup(chart: svg_chart.TrendChartInput, title: str, lang: str) -> Markup | None:
    drawn = svg_chart.layout(chart)
    if drawn is None:
        return None
    vi = lang == "vi"
    labels = {
        "values": "Giá trị" if vi else "Value",
        "milestone": "Mốc" if vi else "Milestone",
        "projection": "Xu hướng dự báo" if vi else "Projected trend",
    }
    # The module escapes every text it writes.
    return Markup(svg_chart.render_svg(drawn, title, labels))


# --- the pages --------------------------------------------------------------------------------


@router.get("/indicators")
async def board_page(
    request: Request,
    user: SignedIn,
    session: SessionDep,
    now: NowDep,
    group: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    chosen = group or None
    if _is_leader(user):
        found = await leader_board(session, user, chosen, now)
    else:
        found = await indicators.board(session, chosen, now)
    upcoming = [e for e in found.indicators if e.days_left is not None and e.days_left >= 0]
    nearest = min(upcoming, key=lambda e: (e.days_left, e.code), default=None)
    waiting = (await waiting_values(session))[1] if user.is_office else 0
    return render(
        request,
        "indicators.html",
        user,
        board=found,
        group=group,
        groups=await groups(session),
        nearest=nearest,
        names=await unit_names(session),
        units_shown=UNITS_SHOWN,
        waiting=waiting,
        **_words(language_of(request)),
    )


@router.get("/indicators/queue")
async def queue_page(request: Request, user: OfficeWeb, session: SessionDep) -> Response:
    rows, total = await waiting_values(session)
    return render(
        request,
        "indicator_queue.html",
        user,
        rows=rows,
        total=total,
        names=await unit_names(session),
        links=_links,
        **_words(language_of(request)),
    )


@router.post("/indicators/{code}/values/{value_id}/verify")
async def verify(
    code: str,
    value_id: int,
    user: OfficeWeb,
    session: SessionDep,
    now: NowDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    decision: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(user, csrf)
    try:
        payload = ValueVerify(decision=decision, reason=reason.strip() or None)  # type: ignore[arg-type]
        value = await indicators.verify_value(session, user.principal, code, value_id, payload, now)
        # As the API's route does: the verdict passes to the commune's reporting task.
        await indicator_reporting.review_value(session, temporal, settings, user.principal, value)
    except ValidationError as e:
        raise PageRefused(422, e.errors()[0]["msg"]) from e
    except ServiceError as e:
        raise refusal(e) from e
    return RedirectResponse("/indicators/queue", status_code=303)


@router.get("/indicators/{code}")
async def indicator_page(
    request: Request,
    code: str,
    user: SignedIn,
    session: SessionDep,
    now: NowDep,
    unit: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    found = await _readable(session, user, code, now)
    series = sorted(
        visible_series(user, found),
        key=lambda s: (
            _SEVERITY[s.colour],
            s.days_left if s.days_left is not None else 10**9,
            s.unit_code or "",
        ),
    )
    chosen = next((s for s in series if s.unit_code == unit), series[0] if series else None)
    lang = language_of(request)
    chart = None
    values: list[ValuePublic] = []
    if chosen is not None:
        name = chosen.unit_name or chosen.unit_code or ""
        title = f"{found.name}{' — ' + name if name else ''}"
        chart = chart_markup(chart_for(found, chosen), title, lang)
        values = sorted(
            (v for v in found.values if v.unit_code == chosen.unit_code),
            key=lambda v: (v.as_of, v.id),
            reverse=True,
        )
    return render(
        request,
        "indicator.html",
        user,
        ind=found,
        series=series,
        chosen=chosen,
        chart=chart,
        values=values,
        may_report=(user.is_office or _is_leader(user))
        and found.source == IndicatorSource.REPORTED,
        names=await unit_names(session),
        links=_links,
        **_words(lang),
    )


# --- reporting --------------------------------------------------------------------------------


async def _reportable(session: AsyncSession, user: WebUser, code: str, now: datetime) -> Any:
    """The indicator a person may report on: the office any; a leader a commune-scoped one (for
    their own commune); no one else."""
    if not (user.is_office or _is_leader(user)):
        raise PageRefused(403, "Số liệu do Văn phòng Ban Chỉ đạo và lãnh đạo xã, phường báo cáo.")
    found = await _readable(session, user, code, now)
    if found.source != IndicatorSource.REPORTED:
        # The product computes it: there is nothing to report (the API answers 409 as well).
        raise PageRefused(409, f"{found.source_vi} / {found.source_en}")
    return found


async def _unit_choices(session: AsyncSession, scope: IndicatorScope) -> list[tuple[str, str]]:
    if scope is IndicatorScope.COMMUNE:
        rows = await session.execute(
            select(Commune.code, Commune.name)
            .where(Commune.province_code == str(DAK_LAK))
            .order_by(Commune.name)
        )
    elif scope is IndicatorScope.AGENCY:
        rows = await session.execute(select(Unit.code, Unit.name).order_by(Unit.name))
    else:
        return []
    return [(c, n) for c, n in rows]


async def _report_page(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    found: IndicatorStatus,
    form: dict[str, str],
    error: str | None,
    status_code: int,
) -> Response:
    choices = [] if _is_leader(user) else await _unit_choices(session, found.scope)
    return render(
        request,
        "indicator_report.html",
        user,
        ind=found,
        form=form,
        error=error,
        choices=choices,
        own_name=(await unit_names(session)).get(user.commune_code or "", ""),
        status_code=status_code,
        **_words(language_of(request)),
    )


@router.get("/indicators/{code}/report")
async def report_form(
    request: Request,
    code: str,
    user: SignedIn,
    session: SessionDep,
    now: NowDep,
    unit: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    found = await _reportable(session, user, code, now)
    form = {
        "unit_code": unit,
        "as_of": vietnam_today(now).isoformat(),
        "value": "",
        "note": "",
        "evidence": "",
    }
    return await _report_page(request, session, user, found, form, None, 200)


def value_payload(form: dict[str, str], user: WebUser) -> ValueCreate:
    """The form as the API's body: a figure may be written with a decimal comma (66,5)."""
    try:
        as_of = date.fromisoformat(form["as_of"].strip())
    except ValueError as e:
        raise ValueError("Ngày số liệu không hợp lệ / the as-of date is not a date") from e
    try:
        figure = float(form["value"].strip().replace(",", "."))
    except ValueError as e:
        raise ValueError("Giá trị phải là một số / the value must be a number") from e
    unit_code = None if _is_leader(user) else (form["unit_code"].strip() or None)
    return ValueCreate(
        unit_code=unit_code,
        as_of=as_of,
        value=figure,
        evidence=form["evidence"].strip(),
        note=form["note"].strip(),
    )


@router.post("/indicators/{code}/report")
async def report(
    request: Request,
    code: str,
    user: SignedIn,
    session: SessionDep,
    now: NowDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form()] = "",
    unit_code: Annotated[str, Form(max_length=8)] = "",
    as_of: Annotated[str, Form(max_length=20)] = "",
    value: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    evidence: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    check_csrf(user, csrf)
    found = await _reportable(session, user, code, now)
    form = {"unit_code": unit_code, "as_of": as_of, "value": value, "note": note,
            "evidence": evidence}  # fmt: skip
    try:
        payload = value_payload(form, user)
        recorded = await indicators.record_value(session, user.principal, code, payload, now)
        # As the API's route does: a commune's value inside an opened period reports its task.
        await indicator_reporting.report_value(
            session, temporal, settings, user.principal, recorded
        )
    except ValidationError as e:
        message = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}".lstrip(": ")
            for err in e.errors()
        )
        return await _report_page(request, session, user, found, form, message, 422)
    except ValueError as e:
        return await _report_page(request, session, user, found, form, str(e), 422)
    except ServiceError as e:
        return await _report_page(request, session, user, found, form, e.message, status_of(e))
    target = f"/indicators/{quote(code)}"
    if recorded.unit_code is not None:
        target += f"?unit={quote(recorded.unit_code)}"
    return RedirectResponse(target, status_code=303)
