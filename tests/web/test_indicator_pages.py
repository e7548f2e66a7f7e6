"""The indicators' pages over HTTP on SQLite and PostgreSQL, judged on 10 April 2026 (the pages'
and the API's clocks are replaced): who may open the board, an indicator's page, the office's
verification queue and the reporting form; the board's exact counts, order and days left; an
indicator's figures and the exact points of its SVG trend chart; a leader's report landing as
`submitted`, and the queue's accept and return changing the value's status.

The module keeps a database of its own, emptied of indicators before each test."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from api.routes import indicators as indicator_routes
from api.security_headers import CONTENT_SECURITY_POLICY
from db.engine import make_engine
from db.models.indicators import Indicator, IndicatorMilestone, IndicatorValue
from services.accounts import create_account
from tests.conftest import ApiClient, api_app, fresh_database
from tests.web.test_pages_http import csrf_of
from vocabulary.roles import Role
from web import indicator_pages, svg_chart

# 10:00 in Vietnam on 10 April 2026: March is the last month that has ended.
APRIL_10 = datetime(2026, 4, 10, 3, 0, tzinfo=UTC)
PASSWORD = "mat-khau-chi-tieu-thu"
OWN, OTHER = "24133", "24121"
MONTH_ENDS = ["2026-01-31", "2026-02-28", "2026-03-31"]
INDICATORS = "/api/v1/indicators"


@pytest.fixture(scope="module")
def pages_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path_factory.mktemp("indicator-pages")) as url:
        yield url


@pytest.fixture
def pages_engine(pages_database_url: str) -> Iterator[Engine]:
    engine = make_engine(pages_database_url)
    with Session(engine) as session, session.begin():
        for table in (IndicatorValue, IndicatorMilestone, Indicator):
            session.execute(delete(table))
    yield engine
    engine.dispose()


class Site:
    """The API app with the steering office's token, and browsers of their own on it."""

    def __init__(self, api: ApiClient, app: FastAPI, engine: Engine) -> None:
        self.api = api
        self.app = app
        self.engine = engine

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.api.request(method, path, **kwargs)

    def anonymous(self) -> httpx.AsyncClient:
        # https: the session cookie is Secure off loopback.
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="https://axis.test", timeout=60
        )

    async def browser(self, role: Role, commune_code: str | None = None) -> httpx.AsyncClient:
        """A browser (its own cookies) signed in with a new account of this role."""
        username = f"i.{uuid.uuid4().hex[:10]}"
        with Session(self.engine) as session, session.begin():
            create_account(session, username, PASSWORD, role, f"{role.value} thử", commune_code)
        client = self.anonymous()
        form = await client.get("/login")
        answer = await client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
        assert answer.status_code == 303, answer.text
        return client


@pytest.fixture
async def site(
    local_env: WorkflowEnvironment,
    pages_database_url: str,
    pages_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[Site]:
    opened = api_app(local_env, pages_database_url, pages_engine, task_queue, executor)
    async with opened as (api, app):
        app.dependency_overrides[indicator_routes.clock] = lambda: APRIL_10
        app.dependency_overrides[indicator_pages.clock] = lambda: APRIL_10
        yield Site(api, app, pages_engine)


def indicator(code: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": f"Chỉ tiêu {code}",
        "kind": "percent",
        "scope": "province",
        "rhythm": "monthly",
        "unit_of_measure": "%",
        "group": "KH02",
        "responsible": "SKHCN",
        "milestones": [{"date": "2026-12-31", "target": 80}, {"date": "2030-12-31", "target": 100}],
    }
    return {**body, **changes}


async def create(site: Site, body: dict[str, Any], values: tuple[float, ...] = ()) -> None:
    answer = await site.call("POST", INDICATORS, json=body)
    assert answer.status_code == 201, answer.text
    unit = {"unit_code": OWN} if body.get("scope") == "commune" else {}
    for as_of, value in zip(MONTH_ENDS, values, strict=False):
        answer = await site.call(
            "POST",
            f"{INDICATORS}/{body['code']}/values",
            json={"as_of": as_of, "value": value, **unit},
        )
        assert answer.status_code == 201, answer.text


async def five_indicators(site: Site) -> None:
    """One of each colour, and a commune-scoped one reported by the office for one commune."""
    await create(site, indicator("ONLINE"), (60, 63, 66))  # green, 80 on 2026-08-16
    await create(site, indicator("SLOW"), (50, 50.5, 51))  # red, 80 only on 2030-12-07
    await create(site, indicator("LAGGING"), (60, 61.7, 63.4))  # yellow, 80 on 2027-01-13
    # No value at all, and the nearest milestone: 81 days from 10 April.
    await create(
        site, indicator("GREYONE", group="Nhóm khác", milestones=[{"date": "2026-06-30",
                                                                  "target": 50}])
    )  # fmt: skip
    await create(site, indicator("XA.DVC", scope="commune", responsible=""), (60, 63, 66))


def value_rows(engine: Engine, code: str) -> list[IndicatorValue]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(IndicatorValue)
                .where(IndicatorValue.indicator_code == code)
                .order_by(IndicatorValue.id)
            )
        )


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</', html, re.S)
    assert found, element_id
    return re.sub(r"\s+", " ", found.group(1)).strip()


# --- who may open what ------------------------------------------------------------------------


async def test_each_page_answers_by_role(site: Site) -> None:
    await five_indicators(site)
    office = await site.browser(Role.STEERING_OFFICE)
    reader = await site.browser(Role.READER)
    leader = await site.browser(Role.COMMUNE_LEADER, OWN)
    anonymous = site.anonymous()

    pages = [
        "/indicators", "/indicators/ONLINE", "/indicators/XA.DVC", "/indicators/queue",
        "/indicators/ONLINE/report", "/indicators/XA.DVC/report",
    ]  # fmt: skip
    expected = {
        # The office: everything.
        "office": [200, 200, 200, 200, 200, 200],
        # A reader: the board and the indicators, neither the queue nor a report.
        "reader": [200, 200, 200, 403, 403, 403],
        # A leader: their board, a commune-scoped indicator and its form; a province's indicator
        # is not theirs (answered as missing), the queue is the office's.
        "leader": [200, 404, 200, 403, 404, 200],
    }
    for name, client in (("office", office), ("reader", reader), ("leader", leader)):
        answers = [await client.get(p) for p in pages]
        assert [a.status_code for a in answers] == expected[name], name
        for answer in answers:
            # The policy every page carries, and nothing inline it would block (the chart's
            # colours are SVG attributes, not styles).
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert ' style="' not in answer.text and "<script>" not in answer.text
    for page in pages:
        answer = await anonymous.get(page)
        assert (answer.status_code, answer.headers["location"]) == (
            303, f"/login?next={page}",
        )  # fmt: skip
    assert (await office.get("/indicators/NOPE")).status_code == 404
    # The navigation leads to the board for everyone signed in.
    assert 'href="/indicators"' in (await leader.get("/indicators")).text


# --- the board --------------------------------------------------------------------------------


async def test_the_board_counts_the_colours_and_ranks_the_worst_first(site: Site) -> None:
    await five_indicators(site)
    office = await site.browser(Role.STEERING_OFFICE)
    page = (await office.get("/indicators")).text
    counts = {c: text_of(page, f"count-{c}") for c in ("red", "yellow", "grey", "green")}
    # The commune-scoped one is grey: 101 of its communes reported nothing.
    assert counts == {"red": "1", "yellow": "1", "grey": "2", "green": "1"}
    rows = re.findall(r'<tr id="ind-([^"]+)" data-colour="([a-z]+)">', page)
    assert rows == [
        ("SLOW", "red"), ("LAGGING", "yellow"), ("GREYONE", "grey"), ("XA.DVC", "grey"),
        ("ONLINE", "green"),
    ]  # fmt: skip
    days = re.findall(r'<td class="days-left">([^<]+)</td>', page)
    # Worst first, then the fewest days left within a colour.
    assert days == ["265", "265", "81", "265", "265"]
    assert text_of(page, "nearest").startswith("Mốc gần nhất: 30/06/2026, còn")
    assert "<strong>81</strong>" in page
    # The red one names its responsible unit (SKHCN is an agency of the province's list).
    slow = page[page.index('id="ind-SLOW"') : page.index('id="ind-LAGGING"')]
    assert "<td>Sở Khoa học và Công nghệ</td>" in slow

    group = (await office.get("/indicators", params={"group": "Nhóm khác"})).text
    assert re.findall(r'<tr id="ind-([^"]+)"', group) == ["GREYONE"]
    assert text_of(group, "count-grey") == "1" and text_of(group, "count-red") == "0"


async def test_a_leaders_board_shows_their_communes_series_only(site: Site) -> None:
    await five_indicators(site)
    own = await site.browser(Role.COMMUNE_LEADER, OWN)
    other = await site.browser(Role.COMMUNE_LEADER, OTHER)
    mine = (await own.get("/indicators")).text
    # Only the commune-scoped indicator, coloured by their own series: green for 24133.
    assert re.findall(r'<tr id="ind-([^"]+)" data-colour="([a-z]+)">', mine) == [
        ("XA.DVC", "green")
    ]
    assert text_of(mine, "count-green") == "1" and text_of(mine, "count-grey") == "0"
    theirs = (await other.get("/indicators")).text
    assert re.findall(r'<tr id="ind-([^"]+)" data-colour="([a-z]+)">', theirs) == [
        ("XA.DVC", "grey")
    ]
    page = (await other.get("/indicators/XA.DVC")).text
    # One series, their own: no table of the 102, no value of 24133.
    assert 'id="series-' not in page and 'id="value-' not in page
    asked = (await other.get("/indicators/XA.DVC", params={"unit": OWN})).text
    assert 'id="value-' not in asked and text_of(asked, "colour") == "Chưa đủ số liệu"


# --- an indicator's page and its chart --------------------------------------------------------


async def test_an_indicators_page_gives_its_pace_and_draws_its_trend(site: Site) -> None:
    await five_indicators(site)
    reader = await site.browser(Role.READER)
    page = (await reader.get("/indicators/ONLINE", params={"lang": "en"})).text
    assert text_of(page, "colour") == "On track"
    assert text_of(page, "projected") == "2026-08-16"
    assert text_of(page, "pace") == "+3.0927"
    assert text_of(page, "pace-required") == "+1.608"
    assert text_of(page, "projected-from") == "2026-01-31, 2026-02-28, 2026-03-31"
    assert text_of(page, "milestone") == "2026-12-31: 80 % (in 265 days)"
    # The chart: three values, the 2026 milestone (2030's is left out), the trend to 31 Dec.
    assert '<polyline class="values" points="48.0,210.3 96.3,194.7 149.7,179.1"' in page
    assert (
        page.count('<g class="milestone">') == 1 and '<circle cx="624.0" cy="106.4" r="6"' in page
    )
    assert 'stroke="#a8201a" stroke-dasharray="2 4"/>' in page
    assert '<line class="projection" x1="48.0" y1="210.1" x2="624.0" y2="33.7"' in page
    assert "<script" not in page.split("<main", 1)[1].split("</main>", 1)[0]

    # Back to Vietnamese (the choice is kept in a cookie): dates and decimal commas as written.
    slow = (await reader.get("/indicators/SLOW", params={"lang": "vi"})).text
    assert text_of(slow, "colour") == "Không kịp"
    assert text_of(slow, "projected") == "07/12/2030"
    assert text_of(slow, "pace-required") == "+3,3309"


def test_the_chart_places_values_milestones_and_the_projection_exactly() -> None:
    points = [(date(2026, 1, 31), 60.0), (date(2026, 2, 28), 63.0), (date(2026, 3, 31), 66.0)]
    projection = svg_chart.trend_line(points, date(2026, 12, 31))
    # Least squares: 177/1742 a day; 60.0534… on 31 January, 93.9902… on 31 December.
    assert projection is not None
    (start_day, start), (end_day, end) = projection
    assert (start_day, round(start, 4), end_day, round(end, 4)) == (
        date(2026, 1, 31), 60.0534, date(2026, 12, 31), 93.9902,
    )  # fmt: skip
    chart = svg_chart.TrendChartInput(
        values=tuple(points),
        milestones=(
            svg_chart.ChartMilestone(date(2026, 12, 31), 80, 80),
            svg_chart.ChartMilestone(date(2030, 12, 31), 100, 100),
        ),
        projection=projection,
    )
    drawn = svg_chart.layout(chart)
    assert drawn is not None
    # 334 days over 576 pixels from x = 48 (31 Jan to 31 Dec); the figures from 60 − 3.399 to
    # 93.990 + 3.399 (a tenth of their span to spare) over 212 pixels, 16 to 228 from the top.
    assert (drawn.first_day, drawn.last_day) == (date(2026, 1, 31), date(2026, 12, 31))
    assert (round(drawn.low, 4), round(drawn.high, 4)) == (56.601, 97.3893)
    assert [(p.x, p.y) for _, _, p in drawn.values] == [
        (48.0, 210.3),
        (96.3, 194.7),
        (149.7, 179.1),
    ]
    assert [(m.due_on, m.target, m.x, m.y_high, m.y_low) for m in drawn.milestones] == [
        (date(2026, 12, 31), "80", 624.0, 106.4, 106.4)
    ]
    assert drawn.projection == (svg_chart.Point(48.0, 210.1), svg_chart.Point(624.0, 33.7))
    assert [(g.y, g.figure) for g in drawn.grid] == [(228.0, 56.6), (122.0, 77.0), (16.0, 97.39)]

    svg = svg_chart.render_svg(drawn, "Tỷ lệ <trực tuyến>", {
        "values": "Giá trị", "milestone": "Mốc", "projection": "Xu hướng"})  # fmt: skip
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" '
                          'viewBox="0 0 640 260"')  # fmt: skip
    assert '<title id="chart-title">Tỷ lệ &lt;trực tuyến&gt;</title>' in svg
    assert '<circle cx="624.0" cy="106.4" r="6"' in svg
    assert "style=" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")

    # A range is a bar from its top to its bottom; a flat series gets a scale of its own.
    ranged = svg_chart.layout(
        svg_chart.TrendChartInput(
            values=((date(2026, 1, 1), 50.0), (date(2026, 2, 1), 50.0)),
            milestones=(svg_chart.ChartMilestone(date(2026, 3, 1), 51, 52),),
        )
    )
    assert ranged is not None
    # 49.8 to 52.2: 52 at 33.7, 51 at 122.0 (the middle), the flat 50 at 210.3.
    assert [(m.target, m.x, m.y_high, m.y_low) for m in ranged.milestones] == [
        ("51–52", 624.0, 33.7, 122.0)
    ]
    assert [(p.x, p.y) for _, _, p in ranged.values] == [(48.0, 210.3), (350.6, 210.3)]
    assert svg_chart.layout(svg_chart.TrendChartInput(values=(), milestones=())) is None
    assert svg_chart.trend_line(points[:1], date(2026, 12, 31)) is None


# --- reporting and verification ---------------------------------------------------------------


async def test_a_leaders_report_waits_and_the_queue_accepts_or_returns_it(
    site: Site,
) -> None:
    await five_indicators(site)
    leader = await site.browser(Role.COMMUNE_LEADER, OWN)
    office = await site.browser(Role.STEERING_OFFICE)

    form = await leader.get("/indicators/XA.DVC/report")
    assert 'value="2026-04-10"' in form.text and 'name="unit_code"' not in form.text
    token = csrf_of(form.text)
    sent = await leader.post(
        "/indicators/XA.DVC/report",
        data={"csrf": token, "as_of": "2026-04-05", "value": "67,5",
              "evidence": "https://xa.example/bao-cao-04.pdf", "note": "Số liệu tháng 4"},
    )  # fmt: skip
    assert (sent.status_code, sent.headers["location"]) == (303, f"/indicators/XA.DVC?unit={OWN}")
    second = await leader.post(
        "/indicators/XA.DVC/report",
        data={"csrf": token, "as_of": "2026-04-08", "value": "90", "evidence": "", "note": ""},
    )
    assert second.status_code == 303
    # A leader names no other commune: the form's unit is ignored, the value is their own.
    rows = value_rows(site.engine, "XA.DVC")[3:]
    assert [(r.unit_code, r.as_of, r.value, r.status) for r in rows] == [
        (OWN, date(2026, 4, 5), 67.5, "submitted"), (OWN, date(2026, 4, 8), 90.0, "submitted"),
    ]  # fmt: skip
    assert rows[0].evidence == "https://xa.example/bao-cao-04.pdf"
    assert rows[0].reported_by.startswith("commune_leader:")
    # Refusals keep nothing: a forged form, a value that is no number, one not known yet.
    forged = await leader.post(
        "/indicators/XA.DVC/report", data={"csrf": "x", "as_of": "2026-04-05", "value": "1"}
    )
    assert forged.status_code == 403
    for bad in ({"as_of": "2026-04-06", "value": "nhiều"}, {"as_of": "2026-05-01", "value": "70"},
                {"as_of": "2026-04-06", "value": "120"}):  # fmt: skip
        refused = await leader.post("/indicators/XA.DVC/report", data={"csrf": token, **bad})
        assert refused.status_code == 422 and 'id="error"' in refused.text, bad
    assert len(value_rows(site.engine, "XA.DVC")) == 5

    queue = await office.get("/indicators/queue")
    assert text_of(queue.text, "waiting") == "2"
    waiting = re.findall(r'id="queue-(\d+)"', queue.text)
    assert waiting == [str(rows[0].id), str(rows[1].id)]
    assert 'href="https://xa.example/bao-cao-04.pdf" rel="noopener noreferrer"' in queue.text
    token = csrf_of(queue.text)
    verify = "/indicators/XA.DVC/values/{}/verify"
    accepted = await office.post(
        verify.format(rows[0].id), data={"csrf": token, "decision": "accept"}
    )
    assert (accepted.status_code, accepted.headers["location"]) == (303, "/indicators/queue")
    # A return says why; without a reason it is refused and the value still waits.
    bare = await office.post(verify.format(rows[1].id), data={"csrf": token, "decision": "return"})
    assert bare.status_code == 422
    assert value_rows(site.engine, "XA.DVC")[4].status == "submitted"
    returned = await office.post(
        verify.format(rows[1].id),
        data={"csrf": token, "decision": "return", "reason": "90 % không khớp báo cáo quý"},
    )
    assert returned.status_code == 303
    done = value_rows(site.engine, "XA.DVC")[3:]
    assert [(r.status, r.return_reason) for r in done] == [
        ("accepted", None), ("returned", "90 % không khớp báo cáo quý"),
    ]  # fmt: skip
    # A value is judged once.
    again = await office.post(verify.format(rows[0].id), data={"csrf": token, "decision": "accept"})
    assert again.status_code == 409
    assert text_of((await office.get("/indicators/queue")).text, "waiting") == "0"
    # The leader sees what became of both on their indicator's page.
    page = (await leader.get("/indicators/XA.DVC")).text
    statuses = re.findall(r'id="value-(\d+)" data-status="([a-z]+)"', page)
    assert statuses[:2] == [(str(rows[1].id), "returned"), (str(rows[0].id), "accepted")]
    assert "90 % không khớp báo cáo quý" in page
    # A leader cannot verify.
    refused = await leader.post(
        verify.format(rows[0].id), data={"csrf": token, "decision": "accept"}
    )
    assert refused.status_code == 403


async def test_the_offices_report_counts_at_once_and_names_its_unit(site: Site) -> None:
    await five_indicators(site)
    office = await site.browser(Role.STEERING_OFFICE)
    form = await office.get("/indicators/XA.DVC/report", params={"unit": OTHER})
    assert f'<option value="{OTHER}" selected>' in form.text
    token = csrf_of(form.text)
    missing = await office.post(
        "/indicators/XA.DVC/report", data={"csrf": token, "as_of": "2026-03-31", "value": "40"}
    )
    assert missing.status_code == 422 and "unit_code" in text_of(missing.text, "error")
    sent = await office.post(
        "/indicators/XA.DVC/report",
        data={"csrf": token, "unit_code": OTHER, "as_of": "2026-03-31", "value": "40"},
    )
    assert (sent.status_code, sent.headers["location"]) == (303, f"/indicators/XA.DVC?unit={OTHER}")
    last = value_rows(site.engine, "XA.DVC")[-1]
    assert (last.unit_code, last.value, last.status) == (OTHER, 40.0, "accepted")
    province = await office.post(
        "/indicators/ONLINE/report", data={"csrf": token, "as_of": "2026-04-09", "value": "68"}
    )
    assert (province.status_code, province.headers["location"]) == (303, "/indicators/ONLINE")
    assert value_rows(site.engine, "ONLINE")[-1].status == "accepted"
