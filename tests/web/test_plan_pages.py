"""The plans' pages over HTTP on SQLite and PostgreSQL, with the dev server and a worker: the
plans with their task counts; a plan's tasks grouped by group, lead unit or leader in charge,
with the counts of the four buckets, the drafts and the tasks that need urging; the cascade
between plans (up to the task a task implements, down to the tasks implementing it, a central
plan's code as text); the office issuing the drafts through the page's form, after which each
task shows its accepted of assignments; an agency head's and a commune leader's own tasks across
plans, a leader in charge's for the office; a commune leader refused the issue.

The module keeps a database of its own, its plans removed before each test, so the counts are
the tests' own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine
from db.models.plans import PlanTask, PlanTaskPartner
from tests.api.test_directives_api import eventually
from tests.conftest import api_app, fresh_database
from tests.plans.stack import PLAN_TABLES, directive_ids_of_its_own
from tests.web.test_indicator_pages import Site, text_of
from tests.web.test_pages_http import csrf_of
from vocabulary.roles import Role

PLANS = "/api/v1/plans"
PROVINCE = {
    "code": "125/KH-UBND",
    "title": "Kế hoạch thực hiện Nghị quyết số 57-NQ/TW",
    "issued_on": "2026-03-02",
    "source": "Nghị quyết số 57-NQ/TW",
}
AGENCY = {
    "code": "7/KH-SNV",
    "title": "Kế hoạch của Sở Nội vụ thực hiện Kế hoạch 125/KH-UBND",
    "issued_on": "2026-04-01",
    "source": "Kế hoạch 125/KH-UBND",
}
DUE = "Năm 2099"
VICE_CHAIR = "Phó Chủ tịch UBND tỉnh Đinh Văn A"
CHAIR = "Chủ tịch UBND tỉnh"


def task(code: str, lead: list[str], **changes: Any) -> dict[str, Any]:
    return {
        "code": code,
        "group": "I. THỂ CHẾ",
        "title": f"Nhiệm vụ {code}",
        "leader_in_charge": VICE_CHAIR,
        "lead_units": lead,
        "product": f"Sản phẩm {code}",
        "due": DUE,
        **changes,
    }


@pytest.fixture(scope="module")
def plan_pages_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    backend = make_url(database_url).get_backend_name()
    with fresh_database(backend, tmp_path_factory.mktemp("plan-pages")) as url:
        directive_ids_of_its_own(url)
        yield url


@pytest.fixture
async def site(
    local_env: WorkflowEnvironment,
    plan_pages_database_url: str,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> AsyncIterator[Site]:
    engine = make_engine(plan_pages_database_url)
    with Session(engine) as session, session.begin():
        for table in PLAN_TABLES:
            session.execute(delete(table))
    opened = api_app(local_env, plan_pages_database_url, engine, task_queue, executor)
    async with opened as (api, app):
        yield Site(api, app, engine)
    engine.dispose()


async def plan(site: Site, body: dict[str, Any], *tasks: dict[str, Any]) -> tuple[int, list[int]]:
    """A plan and its tasks through the API: the plan's id and the tasks' ids."""
    answer = await site.call("POST", PLANS, json=body)
    assert answer.status_code == 201, answer.text
    plan_id: int = answer.json()["id"]
    ids = []
    for body_of_task in tasks:
        added = await site.call("POST", f"{PLANS}/{plan_id}/tasks", json=body_of_task)
        assert added.status_code == 201, added.text
        ids.append(added.json()["id"])
    return plan_id, ids


def row_html(html: str, task_id: int) -> str:
    found = re.search(rf'<tr id="task-{task_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, f"task {task_id} is not on the page"
    return found.group(1)


def row(html: str, task_id: int) -> str:
    """A task's row as text, tags dropped."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row_html(html, task_id))).strip()


def rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="task-(\d+)"', html)]


def groups(html: str) -> list[tuple[str, list[int]]]:
    """Each group's heading and the tasks under it, in the page's order."""
    found = []
    for section in re.findall(r'<section class="task-group"(.*?)</section>', html, re.S):
        heading = re.search(r"<h2>(.*?)</h2>", section, re.S)
        assert heading
        title = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", heading.group(1))).strip()
        found.append((title, rows(section)))
    return found


def counts(html: str) -> dict[str, int]:
    keys = ("within_deadline", "overdue", "on_time", "late", "not_issued", "needs_urging")
    return {k: int(text_of(html, f"count-{k}")) for k in keys}


NOTHING_ISSUED = {"within_deadline": 0, "overdue": 0, "on_time": 0, "late": 0, "needs_urging": 0}


async def test_the_plans_and_a_plans_tasks_grouped_with_their_counts_and_cascade(
    site: Site,
) -> None:
    province, (t1, t2, t3) = await plan(
        site,
        PROVINCE,
        task("1", ["SNV"], implements="57-NQ/TW:III.6"),
        task("2", ["SKHCN", "SNV"], group="II. HẠ TẦNG", leader_in_charge=CHAIR),
        task("3", ["24133"], group="II. HẠ TẦNG", product="Cơ sở dữ liệu"),
    )
    agency, (a1,) = await plan(site, AGENCY, task("1.1", ["SNV"], implements="125/KH-UBND:2"))
    # A partner outside the province leads beside task 3's commune, as an imported sheet says.
    with Session(site.engine) as session, session.begin():
        session.add(PlanTaskPartner(task_id=t3, role="lead", name="Viettel Đắk Lắk", position=0))

    reader = await site.browser(Role.READER)
    listing = await reader.get("/plans")
    assert listing.status_code == 200
    assert re.findall(r'<tr id="plan-(\d+)">', listing.text) == [str(agency), str(province)]
    assert [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r'<td class="task-count">(.*?)</td>', listing.text)
    ] == ["1", "3"]
    assert '<a href="/plans">Kế hoạch</a>' in listing.text

    page = await reader.get(f"/plans/{province}")
    assert page.status_code == 200
    assert text_of(page.text, "task-count") == "3"
    assert counts(page.text) == {**NOTHING_ISSUED, "not_issued": 3}
    assert groups(page.text) == [("I. THỂ CHẾ (1)", [t1]), ("II. HẠ TẦNG (2)", [t2, t3])]
    assert row(page.text, t1) == (
        f"1 Nhiệm vụ 1 Lãnh đạo phụ trách: {VICE_CHAIR} Thực hiện nhiệm vụ 57-NQ/TW:III.6 "
        "Sở Nội vụ Sản phẩm 1 Năm 2099 Dự thảo Chưa ban hành"
    )
    # The central resolution is not stored: its code is text, not a link.
    assert 'href="/plans/' not in row_html(page.text, t1)
    # Task 2 lists the agency's task implementing it, linked.
    assert f'<a href="/plans/{agency}#task-{a1}">7/KH-SNV · 1.1</a> Nhiệm vụ 1.1' in page.text
    assert "Viettel Đắk Lắk" in row(page.text, t3)
    assert '<span class="muted">Viettel Đắk Lắk</span>' in page.text
    assert "issue" not in re.findall(r'<form[^>]*id="(\w+)"', page.text)

    by_unit = await reader.get(f"/plans/{province}", params={"by": "lead_unit"})
    unit_groups = groups(by_unit.text)
    assert [ids for _, ids in unit_groups] == [[t3], [t2], [t1, t2]]
    assert [title.rsplit(" (", 1)[1] for title, _ in unit_groups] == ["1)", "1)", "2)"]
    by_leader = await reader.get(f"/plans/{province}", params={"by": "leader"})
    assert groups(by_leader.text) == [(f"{CHAIR} (1)", [t2]), (f"{VICE_CHAIR} (2)", [t1, t3])]

    lower = await reader.get(f"/plans/{agency}")
    assert row(lower.text, a1).startswith(
        f"1.1 Nhiệm vụ 1.1 Lãnh đạo phụ trách: {VICE_CHAIR} Thực hiện nhiệm vụ 125/KH-UBND · 2"
    )
    assert f'<a href="/plans/{province}#task-{t2}" title="Nhiệm vụ 2">' in lower.text

    wrong = await reader.get(f"/plans/{province}", params={"by": "colour"})
    assert wrong.status_code == 422 and "group, lead_unit, leader" in wrong.text
    assert (await reader.get("/plans/999999")).status_code == 404
    anonymous = site.anonymous()
    assert (await anonymous.get("/plans")).headers["location"] == "/login?next=/plans"


async def test_the_office_issues_the_drafts_through_the_form_and_the_page_counts_them(
    site: Site,
) -> None:
    plan_id, (t1, t2) = await plan(site, PROVINCE, task("1", ["SNV"]), task("2", ["SNV", "SKHCN"]))
    leader = await site.browser(Role.COMMUNE_LEADER, "24133")
    leader_page = await leader.get(f"/plans/{plan_id}")
    assert leader_page.status_code == 200 and 'id="issue"' not in leader_page.text
    refused = await leader.post(f"/plans/{plan_id}/issue", data={"csrf": csrf_of(leader_page.text)})
    assert refused.status_code == 403

    office = await site.browser(Role.STEERING_OFFICE)
    page = await office.get(f"/plans/{plan_id}")
    assert text_of(page.text, "draft-count") == "2"
    forged = await office.post(f"/plans/{plan_id}/issue", data={"csrf": "x"})
    assert forged.status_code == 403
    with Session(site.engine) as session:
        assert set(session.scalars(select(PlanTask.status).where(PlanTask.plan_id == plan_id))) == {
            "draft"
        }

    issued = await office.post(f"/plans/{plan_id}/issue", data={"csrf": csrf_of(page.text)})
    assert issued.status_code == 303 and issued.headers["location"] == f"/plans/{plan_id}"

    async def counted() -> str:
        answer = await office.get(f"/plans/{plan_id}")
        # Each lead unit's assignment is written by the task's workflow, a moment after.
        assert "0 / 1" in row(answer.text, t1) and "0 / 2" in row(answer.text, t2)
        return answer.text

    shown = await eventually(counted)
    assert row(shown, t1).endswith(
        "Đã ban hành Xem giao việc 0 / 1 đã hoàn thành Đang thực hiện trong hạn"
    )
    assert counts(shown) == {**NOTHING_ISSUED, "within_deadline": 2, "not_issued": 0}
    assert 'id="issue"' not in shown
    with Session(site.engine) as session:
        query = select(PlanTask.id, PlanTask.directive_id).where(PlanTask.plan_id == plan_id)
        directives = {task_id: directive_id for task_id, directive_id in session.execute(query)}
    assert f'<a href="/directives/{directives[t1]}">' in shown


async def test_an_agency_head_sees_their_agencys_tasks_and_the_office_a_leaders(
    site: Site,
) -> None:
    province, (t1, t2, t3) = await plan(
        site,
        PROVINCE,
        task("1", ["SNV"]),
        task("2", ["SKHCN"], leader_in_charge=CHAIR),
        task("3", ["SNV", "24133"], leader_in_charge=CHAIR),
    )
    _agency, (a1, a2) = await plan(
        site, AGENCY, task("1.1", ["SNV"], implements="125/KH-UBND:1"), task("1.2", ["SGDDT"])
    )

    head = await site.browser(Role.AGENCY_HEAD, "SNV")
    mine = await head.get("/plans/mine")
    assert mine.status_code == 200
    assert "— Sở Nội vụ" in text_of(mine.text, "heading")
    assert text_of(mine.text, "task-count") == "3"
    # The agency's plan first (the latest issued), each plan's tasks in its order.
    assert groups(mine.text) == [
        ("Kế hoạch 7/KH-SNV (1)", [a1]),
        ("Kế hoạch 125/KH-UBND (2)", [t1, t3]),
    ]
    assert counts(mine.text) == {**NOTHING_ISSUED, "not_issued": 3}
    assert 'id="leader"' not in mine.text
    # Another leader's name asked for changes nothing: still the agency's own.
    assert rows((await head.get("/plans/mine", params={"leader": CHAIR})).text) == [t3]

    commune = await site.browser(Role.COMMUNE_LEADER, "24133")
    assert rows((await commune.get("/plans/mine")).text) == [t3]

    office = await site.browser(Role.STEERING_OFFICE)
    prompt = await office.get("/plans/mine")
    assert rows(prompt.text) == []
    assert re.findall(r'<option value="([^"]+)"', prompt.text) == [CHAIR, VICE_CHAIR]
    chair = await office.get("/plans/mine", params={"leader": CHAIR})
    assert groups(chair.text) == [("Kế hoạch 125/KH-UBND (2)", [t2, t3])]
    vice = await office.get("/plans/mine", params={"leader": VICE_CHAIR})
    assert [ids for _, ids in groups(vice.text)] == [[a1, a2], [t1]]
    assert text_of(vice.text, "task-count") == "3"
    assert f'<a href="/plans/{province}#task-{t1}"' in vice.text
