"""Issuing a plan's tasks over HTTP with real tokens, the dev server and a worker: the 66-task
appendix issues one assignment to every lead unit, agencies and communes alike; a task that
lacks a lead unit, a product or a deadline refuses the issue and starts nothing; an agency head
acknowledges and reports through the API and the pages, sees no other agency's task, and the
office's acceptance makes the task done in its standing and in the export; the ladder of an
overdue agency task reaches the committee leader the plan puts in charge, then the office.

The module keeps a database of its own, emptied of plans and directives before each test, so the
counts are the tests' own. Deadlines are far ahead (2096 on) or long past (2020), so no outcome
depends on today's date."""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import io
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as at_hour
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session
from temporalio.client import ScheduleSpec
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.plan_task_periods import PlanTaskPeriodActivities
from config import Settings
from db.engine import make_async_engine, make_engine
from db.models import (
    PROVINCE_SCOPE,
    Assignment,
    Directive,
    Notification,
    Person,
    RosterEntry,
    Unit,
)
from db.models.plans import PlanTask, PlanTaskPeriod, PlanTaskUnit
from services import plan_issue
from services.accounts import create_account
from tests.conftest import ApiClient, api_app, fresh_database
from tests.plans import plan_appendix as appendix
from tests.plans.stack import PLAN_TABLES, directive_ids_of_its_own
from vocabulary.calendar import VIETNAM
from vocabulary.plan_periods import task_schedule_id
from vocabulary.roles import Role
from workflows.plan_task_period_types import OpenPlanTaskPeriodInput

pytestmark = pytest.mark.live

PLANS = "/api/v1/plans"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PASSWORD = "mat-khau-thu-nghiem"
# Years moved this far ahead keep every deadline form of the appendix and put each in the future.
YEARS_AHEAD = 70
LEADER = "Nguyễn Văn An"


def plan_body(code: str) -> dict[str, str]:
    return {
        "code": code,
        "title": "Kế hoạch thực hiện Nghị quyết số 57-NQ/TW",
        "issued_on": "2026-03-02",
        "source": "Nghị quyết số 57-NQ/TW",
    }


def task_body(code: str, lead: list[str], due: str, **changes: Any) -> dict[str, Any]:
    return {
        "code": code,
        "group": "HOÀN THIỆN THỂ CHẾ",
        "title": "Ban hành quy chế quản lý cơ sở dữ liệu dùng chung của tỉnh",
        "leader_in_charge": f"Đồng chí {LEADER}, Phó Chủ tịch UBND tỉnh",
        "lead_units": lead,
        "co_units": ["STP"],
        "product": "Quyết định ban hành quy chế",
        "due": due,
        "authority": "UBND tỉnh",
        **changes,
    }


def years_ahead(due: str | date) -> str | date:
    if isinstance(due, date):
        return due.replace(year=due.year + YEARS_AHEAD)
    return re.sub(r"20(\d\d)", lambda m: str(int(m.group(0)) + YEARS_AHEAD), due)


def appendix_ahead() -> bytes:
    """The appendix with every year moved ahead, its deadline forms as written."""
    groups = [
        replace(g, tasks=tuple(replace(t, due=years_ahead(t.due)) for t in g.tasks))
        for g in appendix.GROUPS
    ]
    return appendix.build_xlsx(groups)


@pytest.fixture(scope="module")
def issue_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path_factory.mktemp("plan-issue")) as url:
        directive_ids_of_its_own(url)
        yield url


class Site:
    def __init__(
        self,
        api: ApiClient,
        engine: Engine,
        browser: Callable[[], httpx.AsyncClient],
        url: str,
    ) -> None:
        self.api = api
        self.engine = engine
        self.browser = browser
        self.url = url

    async def plan(self, code: str = "125/KH-UBND") -> int:
        answer = await self.api.request("POST", PLANS, json=plan_body(code))
        assert answer.status_code == 201, answer.text
        plan_id: int = answer.json()["id"]
        return plan_id

    async def task(self, plan_id: int, body: dict[str, Any]) -> None:
        answer = await self.api.request("POST", f"{PLANS}/{plan_id}/tasks", json=body)
        assert answer.status_code == 201, answer.text

    async def issue(self, plan_id: int, body: Any = None) -> httpx.Response:
        return await self.api.request("POST", f"{PLANS}/{plan_id}/issue", json=body)

    async def tasks(self, plan_id: int) -> list[dict[str, Any]]:
        answer = await self.api.request("GET", f"{PLANS}/{plan_id}/tasks")
        assert answer.status_code == 200, answer.text
        data: list[dict[str, Any]] = answer.json()["data"]
        return data

    def assignments(self, plan_id: int, *where: Any) -> int:
        """The assignments of the plan's tasks."""
        of_plan = select(PlanTask.directive_id).where(PlanTask.plan_id == plan_id)
        return self.count(Assignment, Assignment.directive_id.in_(of_plan), *where)

    def count(self, model: Any, *where: Any) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    async def until(self, condition: Callable[[], bool], seconds: float = 60) -> None:
        """Wait for the workflows to bring the read model to `condition`, failing after
        `seconds`."""
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, "the read model never reached the condition"
            await asyncio.sleep(0.1)


@pytest.fixture
async def site(
    local_env: WorkflowEnvironment,
    issue_database_url: str,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[Site]:
    engine = make_engine(issue_database_url)
    with Session(engine) as session:
        recurring = list(
            session.scalars(select(PlanTask.id).where(PlanTask.recurrence_every.is_not(None)))
        )
    # The tasks' ids may be given again once their rows are gone: their schedules go with them.
    for task_id in recurring:
        with contextlib.suppress(RPCError):
            await local_env.client.get_schedule_handle(task_schedule_id(task_id)).delete()
    with Session(engine) as session, session.begin():
        # Directives stay: their workflows may still run, and a reused id would join one.
        for table in PLAN_TABLES:
            session.execute(delete(table))
    async with api_app(local_env, issue_database_url, engine, task_queue, executor) as (
        client,
        app,
    ):

        def browser() -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://axis.test"
            )

        yield Site(client, engine, browser, issue_database_url)
    engine.dispose()


async def test_the_66_task_appendix_issues_one_assignment_to_every_lead_unit(
    site: Site, figure: Callable[[str], None]
) -> None:
    plan_id = await site.plan()
    started = time.perf_counter()
    imported = await site.api.request(
        "POST",
        f"{PLANS}/{plan_id}/import",
        files={"file": ("phu-luc.xlsx", appendix_ahead(), XLSX)},
    )
    import_ms = (time.perf_counter() - started) * 1000
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert (report["stored"], report["errors"]) == (66, [])
    tasks = await site.tasks(plan_id)
    lead = {t["code"]: sorted({u["code"] for u in t["lead_units"]}) for t in tasks}
    expected = sum(len(codes) for codes in lead.values())
    agencies = {code for codes in lead.values() for code in codes if not code.isdigit()}
    communes = {code for codes in lead.values() for code in codes if code.isdigit()}

    started = time.perf_counter()
    answer = await site.issue(plan_id)
    issue_ms = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, answer.text
    issued = answer.json()
    assert issued == {
        "issued": [t["code"] for t in tasks],
        "already_issued": [],
        "done": [],
        "assignments": expected,
    }
    await site.until(lambda: site.assignments(plan_id) == expected)

    with Session(site.engine) as session:
        by_task = {
            code: sorted(
                session.scalars(
                    select(Assignment.commune_code)
                    .join(PlanTask, PlanTask.directive_id == Assignment.directive_id)
                    .where(PlanTask.code == code)
                )
            )
            for code in lead
        }
    assert by_task == lead
    after = await site.tasks(plan_id)
    assert {t["status"] for t in after} == {"issued"}
    assert [t["standing"]["assignments"] for t in after] == [len(lead[t["code"]]) for t in after]
    assert {t["standing"]["accepted"] for t in after} == {0}
    # Issuing again starts nothing twice.
    again = await site.issue(plan_id)
    assert again.json()["issued"] == [] and len(again.json()["already_issued"]) == 66
    assert site.assignments(plan_id) == expected
    figure(
        f"66 tasks imported in {import_ms:.0f} ms, issued in {issue_ms:.0f} ms: {expected} "
        f"assignments to {len(agencies)} agencies and {len(communes)} communes"
    )


async def test_a_task_without_a_lead_unit_product_or_deadline_refuses_the_issue(
    site: Site,
) -> None:
    plan_id = await site.plan()
    await site.task(plan_id, task_body("1", ["SNV"], "Năm 2099"))
    # The form and the import refuse such tasks; stored by an earlier version or edited in the
    # database, they must still not be issued. (A stored deadline always has a date: the reading
    # of a stored task refuses one without.)
    await site.task(plan_id, task_body("2", ["STP"], "Năm 2099"))
    await site.task(plan_id, task_body("3", ["STC"], "Năm 2099"))
    with Session(site.engine) as session, session.begin():
        two = session.scalars(select(PlanTask).where(PlanTask.code == "2")).one()
        session.execute(delete(PlanTaskUnit).where(PlanTaskUnit.task_id == two.id))
        two.product = ""
        three = session.scalars(select(PlanTask).where(PlanTask.code == "3")).one()
        three.product = "  "

    answer = await site.issue(plan_id)

    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["detail"] == (
        "2 tasks cannot be issued: 2: no lead unit, no product; 3: no product"
    )
    assert body["state"]["errors"] == [
        {"task": "2", "missing": "no lead unit, no product"},
        {"task": "3", "missing": "no product"},
    ]
    assert [t["directive_id"] for t in await site.tasks(plan_id)] == [None, None, None]
    assert {t["status"] for t in await site.tasks(plan_id)} == {"draft"}
    unknown = await site.issue(plan_id, {"tasks": ["1", "99"]})
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "plan 125/KH-UBND has no task 99"
    leader = await site.api.token("commune_leader", "24133")
    refused = await site.api.request("POST", f"{PLANS}/{plan_id}/issue", token=leader)
    assert refused.status_code == 403
    assert [t["directive_id"] for t in await site.tasks(plan_id)] == [None, None, None]


async def sign_in(browser: httpx.AsyncClient, username: str) -> None:
    form = await browser.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text[:300]
    answer = await browser.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf": csrf.group(1)}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/inbox"


def local_midnight(moment: datetime) -> datetime:
    """A date cell as openpyxl reads it back: the Vietnamese day at midnight, without a zone."""
    return datetime.combine(moment.astimezone(VIETNAM).date(), datetime.min.time())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


async def test_an_agency_head_acknowledges_and_reports_through_the_api_and_the_pages(
    site: Site,
) -> None:
    plan_id = await site.plan()
    await site.task(plan_id, task_body("1", ["SNV"], "Năm 2099"))
    await site.task(plan_id, task_body("2", ["STP"], "Quý II/2098"))
    await site.task(plan_id, task_body("3", ["SNV", "24133"], "Tháng 5/2097"))
    assert (await site.issue(plan_id)).status_code == 200
    await site.until(lambda: site.assignments(plan_id) == 4)
    tasks = {t["code"]: t for t in await site.tasks(plan_id)}
    first, second, third = (tasks[c]["directive_id"] for c in ("1", "2", "3"))
    head = await site.api.token("agency_head", "SNV")
    other_head = await site.api.token("agency_head", "STP")

    # The head's inbox holds SNV's two assignments of this plan and nothing of another agency.
    inbox = await site.api.request("GET", "/api/v1/assignments?limit=200", token=head)
    assert inbox.status_code == 200, inbox.text
    rows = inbox.json()["data"]
    assert {a["commune_code"] for a in rows} == {"SNV"}
    ours = [a for a in rows if a["directive_id"] in (first, second, third)]
    assert sorted((a["directive_id"], a["commune_code"]) for a in ours) == [
        (first, "SNV"),
        (third, "SNV"),
    ]
    path = f"/api/v1/directives/{second}/assignments/STP"
    assert (await site.api.request("GET", path, token=head)).status_code == 404
    stp_ack = await site.api.request("POST", f"{path}/acknowledge", token=head)
    assert stp_ack.status_code in (403, 404)
    theirs = await site.api.request(
        "POST", f"/api/v1/directives/{first}/assignments/SNV/acknowledge", token=other_head
    )
    assert theirs.status_code in (403, 404)

    # Through the API: task 1 acknowledged, reported, accepted.
    own = f"/api/v1/directives/{first}/assignments/SNV"
    acknowledged = await site.api.request("POST", f"{own}/acknowledge", token=head)
    assert acknowledged.status_code == 200, acknowledged.text
    reported = await site.api.request(
        "POST",
        f"{own}/report",
        token=head,
        json={"summary": "Đã ban hành Quyết định số 12/QĐ-SNV", "evidence": ["12/QĐ-SNV"]},
    )
    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "reported"
    accepted = await site.api.request(
        "POST", f"{own}/review", json={"decision": "accept", "comment": ""}
    )
    assert accepted.status_code == 200, accepted.text
    await site.until(
        lambda: (
            site.count(
                Assignment, Assignment.directive_id == first, Assignment.status == "completed"
            )
            == 1
        )
    )
    one = next(t for t in await site.tasks(plan_id) if t["code"] == "1")
    assert one["status"] == "done"
    standing = one["standing"]
    assert (standing["assignments"], standing["accepted"], standing["timeliness"]) == (
        1,
        1,
        "on_time",
    )
    assert standing["last_report"] == "Đã ban hành Quyết định số 12/QĐ-SNV"

    # Through the pages: the head of SNV signs in, sees task 3 and acknowledges it.
    username = f"snv.{uuid.uuid4().hex[:8]}"
    with Session(site.engine) as session, session.begin():
        create_account(session, username, PASSWORD, Role.AGENCY_HEAD, "Giám đốc Sở Nội vụ", "SNV")
    async with site.browser() as browser:
        await sign_in(browser, username)
        page = await browser.get("/inbox")
        assert page.status_code == 200
        assert f"/inbox/directives/{third}" in page.text
        assert f"/inbox/directives/{second}" not in page.text
        assert (await browser.get(f"/inbox/directives/{second}")).status_code == 404
        detail = await browser.get(f"/inbox/directives/{third}")
        assert detail.status_code == 200
        done = await browser.post(
            f"/inbox/directives/{third}/acknowledge", data={"csrf": csrf_of(detail.text)}
        )
        assert done.status_code == 303, done.text
        await site.until(
            lambda: (
                site.count(
                    Assignment,
                    Assignment.directive_id == third,
                    Assignment.commune_code == "SNV",
                    Assignment.status == "acknowledged",
                )
                == 1
            )
        )
        detail = await browser.get(f"/inbox/directives/{third}")
        sent = await browser.post(
            f"/inbox/directives/{third}/report",
            data={"csrf": csrf_of(detail.text), "summary": "Đã trình dự thảo quy chế"},
        )
        assert sent.status_code == 303, sent.text
    await site.until(
        lambda: (
            site.count(
                Assignment,
                Assignment.directive_id == third,
                Assignment.commune_code == "SNV",
                Assignment.status == "reported",
            )
            == 1
        )
    )
    three = next(t for t in await site.tasks(plan_id) if t["code"] == "3")
    assert three["status"] == "issued"
    assert (three["standing"]["assignments"], three["standing"]["reported"]) == (2, 1)
    assert three["standing"]["accepted"] == 0

    # The export carries each task's status, bucket and last report.
    export = await site.api.request("GET", f"{PLANS}/{plan_id}/export")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][10:] == [
        "Trạng thái",
        "Tiến độ",
        "Báo cáo gần nhất",
        "Ngày giao",
        "Ngày hoàn thành",
    ]
    by_code = {str(r[0]): r[10:] for r in rows[1:]}
    with Session(site.engine) as session:
        issued_at, reported_at, completed_at = session.execute(
            select(Directive.issued_at, Assignment.reported_at, Assignment.completed_at)
            .join(Assignment, Assignment.directive_id == Directive.id)
            .where(Directive.id == first)
        ).one()
    assert reported_at is not None and completed_at is not None
    assert by_code["1"] == [
        "Hoàn thành",
        "Đúng hạn",
        f"{reported_at.astimezone(VIETNAM):%d/%m/%Y}: Đã ban hành Quyết định số 12/QĐ-SNV",
        local_midnight(issued_at),
        local_midnight(completed_at),
    ]
    assert by_code["2"] == ["Đang thực hiện", "Trong hạn", None, local_midnight(issued_at), None]


async def test_an_overdue_agency_task_escalates_to_its_leader_in_charge_then_the_office(
    site: Site,
) -> None:
    with Session(site.engine) as session, session.begin():
        leader = Person(name=LEADER, email=f"an.{uuid.uuid4().hex[:6]}@daklak.gov.vn")
        other = Person(name="Trần Thị Bình", email=f"binh.{uuid.uuid4().hex[:6]}@daklak.gov.vn")
        head = Person(name="Giám đốc Sở Tư pháp", email=f"stp.{uuid.uuid4().hex[:6]}@daklak.gov.vn")
        session.add_all([leader, other, head])
        session.flush()
        session.add_all(
            [
                RosterEntry(person_id=leader.id, role="committee_leader", scope=PROVINCE_SCOPE),
                RosterEntry(person_id=other.id, role="committee_leader", scope=PROVINCE_SCOPE),
                RosterEntry(person_id=head.id, role="agency_head", scope="STP"),
            ]
        )
        emails = (leader.email, other.email, head.email)
    plan_id = await site.plan()
    # Long past: overdue from the start, a day and a week past the deadline at once.
    await site.task(plan_id, task_body("1", ["STP"], "31/12/2020"))
    assert (await site.issue(plan_id)).status_code == 200
    directive_id = (await site.tasks(plan_id))[0]["directive_id"]
    await site.until(
        lambda: (
            site.count(
                Notification,
                Notification.directive_id == directive_id,
                Notification.kind == "escalation",
            )
            >= 2
        )
    )
    with Session(site.engine) as session:
        sent = sorted(
            (step, role, recipient)
            for step, role, recipient in session.execute(
                select(
                    Notification.step, Notification.recipient_role, Notification.recipient
                ).where(
                    Notification.directive_id == directive_id,
                    Notification.kind.in_(["escalation", "issued"]),
                )
            )
        )
        office = sorted(
            session.scalars(
                select(Person.email)
                .join(RosterEntry, RosterEntry.person_id == Person.id)
                .where(RosterEntry.role == "steering_office", RosterEntry.scope == PROVINCE_SCOPE)
            )
        )
        escalated = session.scalars(
            select(Assignment.escalation_level).where(Assignment.directive_id == directive_id)
        ).one()
    leader_email, other_email, head_email = emails
    assert office, "the demo roster names the steering office"
    assert [s for s in sent if s[0] not in ("level-1", "level-2")] == [
        ("rev-1", "agency_head", head_email)
    ]
    assert [s for s in sent if s[0] == "level-1"] == [("level-1", "committee_leader", leader_email)]
    assert other_email not in {r for _, _, r in sent}
    assert (
        sorted(r for s, role, r in sent if s == "level-2" and role == "steering_office") == office
    )
    assert escalated == 2


async def test_a_leaders_and_an_agencys_tasks_across_plans(site: Site) -> None:
    first = await site.plan("125/KH-UBND")
    second = await site.plan("40/KH-BCĐ")
    dinh = "Đồng chí Đinh Văn Khiết, Phó Chủ tịch UBND tỉnh"
    await site.task(first, task_body("1", ["SNV"], "Năm 2099", leader_in_charge=dinh))
    await site.task(first, task_body("2", ["STP"], "Năm 2099"))
    await site.task(second, task_body("1", ["STP", "SNV"], "Năm 2098", leader_in_charge=dinh))
    # Long past: needs urging as soon as it is issued.
    await site.task(second, task_body("2", ["SNV"], "31/12/2020"))
    assert (await site.issue(first)).status_code == 200
    assert (await site.issue(second)).status_code == 200
    await site.until(lambda: site.assignments(first) + site.assignments(second) == 5)

    async def listed(token: str | None = None, **params: str) -> list[tuple[str, str]]:
        answer = await site.api.request("GET", f"{PLANS}/tasks", token=token, params=params)
        assert answer.status_code == 200, answer.text
        return [(t["plan_code"], t["code"]) for t in answer.json()["data"]]

    # Written without diacritics or case, the leader is still found: Đ folds to d.
    assert await listed(leader_in_charge="DINH VAN KHIET") == [
        ("125/KH-UBND", "1"),
        ("40/KH-BCĐ", "1"),
    ]
    assert await listed(lead_unit="STP") == [("125/KH-UBND", "2"), ("40/KH-BCĐ", "1")]
    assert await listed(needs_urging="true") == [("40/KH-BCĐ", "2")]
    head = await site.api.token("agency_head", "SNV")
    assert await listed(head) == [("125/KH-UBND", "1"), ("40/KH-BCĐ", "1"), ("40/KH-BCĐ", "2")]
    other = await site.api.request("GET", f"{PLANS}/tasks", token=head, params={"lead_unit": "STP"})
    assert other.status_code == 403
    assert other.json()["detail"] == "an agency head acts on their own agency only"


def quarter_holding(day: date) -> tuple[date, date]:
    first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    last_month = first.month + 2
    return first, date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])


def fires(spec: ScheduleSpec) -> tuple[list[tuple[int, int]], ...]:
    """(minutes, hours, days of the month, months) the schedule fires on."""
    (fired,) = spec.calendars
    return tuple(
        [(r.start, r.end) for r in ranges]
        for ranges in (fired.minute, fired.hour, fired.day_of_month, fired.month)
    )


async def test_a_task_reported_every_quarter_opens_each_period_on_its_schedule(
    site: Site, task_queue: str
) -> None:
    plan_id = await site.plan()
    await site.task(plan_id, task_body("1", ["SNV", "STP"], "Hằng quý"))
    await site.task(plan_id, task_body("2", ["SNV"], "Năm 2026 và hằng năm đến 2096"))
    answer = await site.issue(plan_id)
    assert answer.status_code == 200, answer.text
    assert answer.json()["assignments"] == 3
    tasks = {t["code"]: t for t in await site.tasks(plan_id)}
    one, two = tasks["1"], tasks["2"]
    with Session(site.engine) as session:
        first = session.get(Directive, one["directive_id"])
        yearly = session.get(Directive, two["directive_id"])
        assert first is not None and yearly is not None
        issued_on = first.issued_at.astimezone(VIETNAM).date()
        periods = list(session.execute(select(PlanTaskPeriod.task_id, PlanTaskPeriod.starts_on,
                                              PlanTaskPeriod.ends_on, PlanTaskPeriod.directive_id)
                                       .order_by(PlanTaskPeriod.task_id)))  # fmt: skip
    # The first period is the quarter under way, due at its last day's end.
    start, end = quarter_holding(issued_on)
    assert first.deadline == datetime.combine(end, at_hour(23, 59), tzinfo=VIETNAM)
    assert yearly.deadline == datetime.combine(
        date(issued_on.year, 12, 31), at_hour(23, 59), tzinfo=VIETNAM
    )
    assert [tuple(p) for p in periods] == [
        (one["id"], start, end, first.id),
        (two["id"], date(issued_on.year, 1, 1), date(issued_on.year, 12, 31), yearly.id),
    ]
    # Each task's schedule opens its next periods: at 00:05 on each quarter's first day, and
    # on 1 January until the year its reports end.
    quarterly = await site.api.temporal.get_schedule_handle(f"plan-task-{one['id']}").describe()
    assert quarterly.schedule.state.note == f"plan task {one['id']}: opens each quarter period"
    assert fires(quarterly.schedule.spec) == (
        [(5, 5)],
        [(0, 0)],
        [(1, 1)],
        [(1, 1), (4, 4), (7, 7), (10, 10)],
    )
    assert quarterly.schedule.spec.time_zone_name == "Asia/Ho_Chi_Minh"
    assert quarterly.schedule.spec.end_at is None
    each_year = await site.api.temporal.get_schedule_handle(f"plan-task-{two['id']}").describe()
    assert fires(each_year.schedule.spec) == ([(5, 5)], [(0, 0)], [(1, 1)], [(1, 1)])
    assert each_year.schedule.spec.end_at == datetime(2097, 1, 1, tzinfo=VIETNAM)

    # The schedule's run for the next quarter opens it once, with a directive of its own.
    environment = ActivityEnvironment()
    environment.info = replace(environment.info, task_queue=task_queue)
    opening = PlanTaskPeriodActivities(site.engine, site.api.temporal)
    next_start = end + timedelta(days=1)
    at = datetime.combine(next_start, at_hour(0, 5), tzinfo=VIETNAM)
    runs = [
        await environment.run(
            opening.open_plan_task_period,
            OpenPlanTaskPeriodInput(task_id=one["id"], at=at, opened_at=at),
        )
        for _ in range(2)
    ]
    opened, again = runs
    next_end = quarter_holding(next_start)[1]
    assert (opened.starts_on, opened.ends_on, opened.created) == (
        next_start.isoformat(),
        next_end.isoformat(),
        True,
    )
    assert (again.directive_id, again.created) == (opened.directive_id, False)
    assert opened.directive_id is not None and opened.directive_id != first.id
    await site.until(
        lambda: site.count(Assignment, Assignment.directive_id == opened.directive_id) == 2
    )
    now_one = next(t for t in await site.tasks(plan_id) if t["code"] == "1")
    assert now_one["directive_id"] == opened.directive_id
    assert now_one["standing"]["assignments"] == 2
    with Session(site.engine) as session:
        later = session.get(Directive, opened.directive_id)
        assert later is not None
        assert later.deadline == datetime.combine(next_end, at_hour(23, 59), tzinfo=VIETNAM)
        assert later.communes == ["SNV", "STP"]

    # Past the year its reports end, the yearly task's schedule opens nothing.
    beyond = datetime(2097, 1, 1, 0, 5, tzinfo=VIETNAM)
    ended = await environment.run(
        opening.open_plan_task_period,
        OpenPlanTaskPeriodInput(task_id=two["id"], at=beyond, opened_at=beyond),
    )
    assert (ended.starts_on, ended.directive_id, ended.created) == ("", None, False)

    # A schedule lost with a restored engine is made again at the API's start.
    await site.api.temporal.get_schedule_handle(f"plan-task-{one['id']}").delete()
    settings = cast(Settings, SimpleNamespace(task_queue=task_queue))
    engine = make_async_engine(site.url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            checked = await plan_issue.reconcile_schedules(session, site.api.temporal, settings)
    finally:
        await engine.dispose()
    assert checked >= 2
    again_made = await site.api.temporal.get_schedule_handle(f"plan-task-{one['id']}").describe()
    assert again_made.schedule.state.note == f"plan task {one['id']}: opens each quarter period"


async def test_co_ordinating_units_are_told_and_add_their_contribution(site: Site) -> None:
    with Session(site.engine) as session, session.begin():
        head = Person(name="Giám đốc Sở Tư pháp", email=f"stp.{uuid.uuid4().hex[:6]}@daklak.gov.vn")
        session.add(head)
        head_email = head.email
    # The office names the agency's head on the unit: no roster row is needed.
    named = await site.api.request("PATCH", "/api/v1/units/STP", json={"head_email": head_email})
    assert named.status_code == 200, named.text
    plan_id = await site.plan()
    await site.task(plan_id, task_body("1", ["SNV"], "Năm 2099", co_units=["STP", "24133", "SNV"]))
    await site.task(plan_id, task_body("2", ["SNV"], "Năm 2099", co_units=["STP"]))
    assert (await site.issue(plan_id, {"tasks": ["1"]})).status_code == 200
    directive_id = (await site.tasks(plan_id))[0]["directive_id"]
    await site.until(
        lambda: (
            site.count(
                Notification,
                Notification.directive_id == directive_id,
                Notification.kind == "coordination",
            )
            >= 2
        )
    )
    with Session(site.engine) as session:
        told = sorted(
            session.execute(
                select(
                    Notification.commune_code,
                    Notification.recipient_role,
                    Notification.recipient,
                    Notification.subject,
                ).where(
                    Notification.directive_id == directive_id,
                    Notification.kind == "coordination",
                )
            )
        )
        leaders = sorted(
            session.scalars(
                select(Person.email)
                .join(RosterEntry, RosterEntry.person_id == Person.id)
                .where(RosterEntry.role == "commune_leader", RosterEntry.scope == "24133")
            )
        )
        # The roster's heads of STP, if another test of the module put any there, and the head
        # the office named on the unit.
        heads = sorted(
            {
                head_email,
                *session.scalars(
                    select(Person.email)
                    .join(RosterEntry, RosterEntry.person_id == Person.id)
                    .where(RosterEntry.role == "agency_head", RosterEntry.scope == "STP")
                ),
            }
        )
        directive = session.get(Directive, directive_id)
        assert directive is not None
        assert (directive.communes, directive.co_units) == (["SNV"], ["24133", "STP"])
    subject = "[Phối hợp] 1. Ban hành quy chế quản lý cơ sở dữ liệu dùng chung của tỉnh"
    assert [(c, r, e) for c, r, e, _ in told] == [
        *(("24133", "commune_leader", email) for email in leaders),
        *(("STP", "agency_head", email) for email in heads),
    ]
    assert {s.split(" — ")[0] for *_, s in told} == {subject}
    # A co-ordinating unit gets no assignment of its own.
    assert site.count(Assignment, Assignment.directive_id == directive_id) == 1

    path = f"{PLANS}/{plan_id}/tasks/1/contributions"
    stp = await site.api.token("agency_head", "STP")
    body = {"summary": "Đã thẩm định dự thảo quy chế", "evidence": ["45/BC-STP"]}
    added = await site.api.request("POST", path, token=stp, json=body)
    assert added.status_code == 201, added.text
    assert {k: added.json()[k] for k in ("unit_code", "unit_name", "summary", "evidence")} == {
        "unit_code": "STP",
        "unit_name": "Sở Tư pháp",
        "summary": "Đã thẩm định dự thảo quy chế",
        "evidence": ["45/BC-STP"],
    }
    lead = await site.api.request(
        "POST", path, token=await site.api.token("agency_head", "SNV"), json=body
    )
    assert (lead.status_code, lead.json()["detail"]) == (
        403,
        "a lead unit reports on the task through its assignment",
    )
    outside = await site.api.request(
        "POST", path, token=await site.api.token("agency_head", "STC"), json=body
    )
    assert (outside.status_code, outside.json()["detail"]) == (
        403,
        "only the task's co-ordinating units add a contribution",
    )
    office = await site.api.request("POST", path, json=body)
    assert office.status_code == 403
    draft = await site.api.request(
        "POST", f"{PLANS}/{plan_id}/tasks/2/contributions", token=stp, json=body
    )
    assert (draft.status_code, draft.json()["detail"]) == (409, "task 2 is not issued yet")
    listed = await site.api.request("GET", path)
    assert listed.status_code == 200
    assert [(c["unit_code"], c["summary"]) for c in listed.json()["data"]] == [
        ("STP", "Đã thẩm định dự thảo quy chế")
    ]


async def test_the_agencies_ranking_page_lists_every_active_agency_and_no_commune(
    site: Site,
) -> None:
    with Session(site.engine) as session:
        active = sorted(session.scalars(select(Unit.code).where(Unit.active.is_(True))))
    username = f"xa.{uuid.uuid4().hex[:8]}"
    with Session(site.engine) as session, session.begin():
        create_account(session, username, PASSWORD, Role.COMMUNE_LEADER, "Lãnh đạo xã", "24133")
    async with site.browser() as browser:
        await sign_in(browser, username)
        page = await browser.get("/scores/agencies", params={"period": "2099"})
        assert page.status_code == 200
        assert "Xếp hạng các sở, ban, ngành" in page.text
        assert "agencies-v1" in page.text
        rows = re.findall(r'<tr id="rank-([^"]+)">', page.text)
        assert sorted(rows) == active and len(rows) == 25
        # The communes' page links to it.
        communes = await browser.get("/scores", params={"period": "2099"})
        assert 'id="agencies-ranking" href="/scores/agencies?period=2099"' in communes.text
        download = await browser.get("/scores/agencies/export.csv", params={"period": "2099"})
        assert download.status_code == 200
        assert len(download.text.strip().splitlines()) == 26
        bad = await browser.get("/scores/agencies", params={"period": "2099-13"})
        assert bad.status_code == 422
