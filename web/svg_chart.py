"""An indicator's trend chart, drawn on the server as an SVG string: its milestones (a target
point, or a bar for a range such as 51–52), the accepted values, and the projection line of the
trend to the milestone's day. Pure functions from figures to coordinates and from coordinates to
markup, so a test can hold the exact points; no outside asset, no script, and no `style`
attribute (the pages' Content-Security-Policy allows no inline style: colours are presentation
attributes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from html import escape

WIDTH, HEIGHT = 640, 260
# Room on the left for the figures of the scale, below for the dates.
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 16, 16, 32
# A flat series still gets a scale: this share of its figure above and below (at least 1).
MARGIN_SHARE = Fraction(1, 10)
VALUE_COLOUR = "#0b4f8a"
MILESTONE_COLOUR = "#a8201a"
PROJECTION_COLOUR = "#4a4a4a"
GRID_COLOUR = "#c8ccd2"
TEXT_COLOUR = "#4a4a4a"


@dataclass(frozen=True)
class ChartMilestone:
    due_on: date
    low: float
    high: float


@dataclass(frozen=True)
class TrendChartInput:
    # The counting values of one series, (as of, value), in any order.
    values: tuple[tuple[date, float], ...]
    milestones: tuple[ChartMilestone, ...]
    # The trend line's two ends, (day, figure): from the first value it was drawn through to the
    # milestone's day; None without a trend.
    projection: tuple[tuple[date, float], tuple[date, float]] | None = None


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class MilestoneMark:
    due_on: date
    target: str
    x: float
    # The target's top and bottom: the same for a single figure.
    y_high: float
    y_low: float


@dataclass(frozen=True)
class GridLine:
    y: float
    figure: float


@dataclass(frozen=True)
class ChartLayout:
    first_day: date
    last_day: date
    low: float
    high: float
    values: tuple[tuple[date, float, Point], ...]
    milestones: tuple[MilestoneMark, ...]
    projection: tuple[Point, Point] | None
    grid: tuple[GridLine, ...]


def _figure(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _target(low: float, high: float) -> str:
    return _figure(low) if low == high else f"{_figure(low)}–{_figure(high)}"


def layout(chart: TrendChartInput) -> ChartLayout | None:
    """Where everything goes: days left to right from the first value (or the first milestone)
    to the last milestone shown, figures bottom to top over the range of everything drawn with a
    tenth of it to spare. Milestones after the first one not yet reached by the values are left
    out, so a 2030 milestone does not squeeze this year's months into a corner. None when there
    is nothing to draw."""
    values = sorted(chart.values)
    milestones = sorted(chart.milestones, key=lambda m: m.due_on)
    if values:
        last_value_day = values[-1][0]
        later = [m for m in milestones if m.due_on > last_value_day]
        shown = [m for m in milestones if m.due_on <= last_value_day] + later[:1]
    else:
        shown = milestones[:1]
    days = [d for d, _ in values] + [m.due_on for m in shown]
    figures = [v for _, v in values] + [f for m in shown for f in (m.low, m.high)]
    if chart.projection is not None:
        days += [d for d, _ in chart.projection]
        figures += [f for _, f in chart.projection]
    if not days:
        return None
    first_day, last_day = min(days), max(days)
    span_days = max((last_day - first_day).days, 1)
    bottom, top = Fraction(min(figures)), Fraction(max(figures))
    if top == bottom:
        spare = max(abs(top) * MARGIN_SHARE, Fraction(1))
    else:
        spare = (top - bottom) * MARGIN_SHARE
    bottom, top = bottom - spare, top + spare
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(day: date) -> float:
        return round(float(PAD_LEFT + Fraction((day - first_day).days, span_days) * inner_w), 1)

    def y(figure: float) -> float:
        share = (Fraction(figure) - bottom) / (top - bottom)
        return round(float(PAD_TOP + (1 - share) * inner_h), 1)

    projection = None
    if chart.projection is not None:
        (start_day, start), (end_day, end) = chart.projection
        projection = (Point(x(start_day), y(start)), Point(x(end_day), y(end)))
    middle = (bottom + top) / 2
    return ChartLayout(
        first_day=first_day,
        last_day=last_day,
        low=float(bottom),
        high=float(top),
        values=tuple((d, v, Point(x(d), y(v))) for d, v in values),
        milestones=tuple(
            MilestoneMark(m.due_on, _target(m.low, m.high), x(m.due_on), y(m.high), y(m.low))
            for m in shown
        ),
        projection=projection,
        grid=tuple(GridLine(y(float(f)), round(float(f), 2)) for f in (bottom, middle, top)),
    )


def _attrs(**attrs: object) -> str:
    return " ".join(
        f'{name.rstrip("_").replace("_", "-")}="{value}"' for name, value in attrs.items()
    )


def render_svg(drawn: ChartLayout, title: str, labels: dict[str, str]) -> str:
    """The chart's markup. `labels` words the parts for a screen reader and the legend:
    `values`, `milestone`, `projection`. Every text is escaped here."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for line in drawn.grid:
        parts.append(
            f"<line {_attrs(x1=PAD_LEFT, x2=WIDTH - PAD_RIGHT, y1=line.y, y2=line.y)} "
            f'stroke="{GRID_COLOUR}"/>'
            f'<text x="2" y="{round(line.y + 4, 1)}" font-size="11" fill="{TEXT_COLOUR}">'
            f"{escape(_figure(line.figure))}</text>"
        )
    bottom_y = HEIGHT - PAD_BOTTOM
    parts.append(
        f'<text x="{PAD_LEFT}" y="{bottom_y + 20}" font-size="11" fill="{TEXT_COLOUR}">'
        f"{drawn.first_day.isoformat()}</text>"
        f'<text x="{WIDTH - PAD_RIGHT}" y="{bottom_y + 20}" font-size="11" text-anchor="end" '
        f'fill="{TEXT_COLOUR}">{drawn.last_day.isoformat()}</text>'
    )
    for mark in drawn.milestones:
        what = escape(f"{labels['milestone']} {mark.due_on.isoformat()}: {mark.target}")
        parts.append(
            f'<g class="milestone"><title>{what}</title>'
            f"<line {_attrs(x1=mark.x, x2=mark.x, y1=PAD_TOP, y2=bottom_y)} "
            f'stroke="{MILESTONE_COLOUR}" stroke-dasharray="2 4"/>'
        )
        if mark.y_high == mark.y_low:
            parts.append(
                f'<circle cx="{mark.x}" cy="{mark.y_low}" r="6" fill="none" '
                f'stroke="{MILESTONE_COLOUR}" stroke-width="2"/></g>'
            )
        else:
            parts.append(
                f'<rect x="{round(mark.x - 4, 1)}" y="{mark.y_high}" width="8" '
                f'height="{round(mark.y_low - mark.y_high, 1)}" fill="{MILESTONE_COLOUR}" '
                f'fill-opacity="0.35" stroke="{MILESTONE_COLOUR}"/></g>'
            )
    if drawn.projection is not None:
        start, end = drawn.projection
        parts.append(
            f'<line class="projection" {_attrs(x1=start.x, y1=start.y, x2=end.x, y2=end.y)} '
            f'stroke="{PROJECTION_COLOUR}" stroke-width="2" stroke-dasharray="6 4">'
            f"<title>{escape(labels['projection'])}</title></line>"
        )
    if drawn.values:
        points = " ".join(f"{p.x},{p.y}" for _, _, p in drawn.values)
        parts.append(
            f'<polyline class="values" points="{points}" fill="none" '
            f'stroke="{VALUE_COLOUR}" stroke-width="2"/>'
        )
        for day, figure, p in drawn.values:
            what = escape(f"{labels['values']} {day.isoformat()}: {_figure(figure)}")
            parts.append(
                f'<circle cx="{p.x}" cy="{p.y}" r="4" fill="{VALUE_COLOUR}"><title>{what}</title>'
                f"</circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def trend_line(
    points: list[tuple[date, float]], until: date
) -> tuple[tuple[date, float], tuple[date, float]] | None:
    """The least-squares line through `points` (x in days), as its two ends: at the first point's
    day and at `until` (the milestone's day; the last point's when the milestone has passed).
    The same line the status is judged on; None for fewer than two points."""
    if len(points) < 2:
        return None
    ordered = sorted(points)
    origin = ordered[0][0]
    xs = [Fraction((d - origin).days) for d, _ in ordered]
    ys = [Fraction(v) for _, v in ordered]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    intercept = mean_y - slope * mean_x
    end = max(until, ordered[-1][0])
    return (
        (origin, float(intercept)),
        (end, float(intercept + slope * (end - origin).days)),
    )
