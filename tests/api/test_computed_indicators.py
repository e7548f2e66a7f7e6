"""Indicators that compute themselves from the product's own records, over HTTP with real
tokens, judged on a fixed day (the routes' clock is replaced): the share of dossiers finished on
time, the share of feedback answered in time and the communes with every assignment accepted,
each as of the last day of each month, with exact figures for known records on known days; a
computed indicator refuses values (409), must be the kind and scope its records give (422),
opens no reporting tasks and has no schedule; its computed points give it its colour and its
projected date as accepted values would.

The module keeps a database of its own, emptied of indicators, dossiers, feedback and
assignments before each test: the figures count every record of the database."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from config import Settings
from db.engine import make_async_engine
from db.models import (
    Assignment,
    Directive,
    Dossier,
    DossierEventRow,
    Feedback,
    IndicatorPeriod,
    policy_to_json,
)
from db.models.indicators import Indicator, IndicatorMilestone, IndicatorValue
from services.indicator_reporting import keep_schedule, no_tasks_computed, reconcile_schedules
from tests.conftest import ApiClient
from tests.indicators.stack import Clock, emptied, judged_at, own_database
from vocabulary.calendar import VIETNAM
from vocabulary.directives import DirectivePolicy
from vocabulary.indicator_periods import indicator_schedule_id

INDICATORS = "/api/v1/indicators"
# 10:00 in Vietnam on 10 April 2026: January, February and March 2026 are over.
MONTH_ENDS = ["2026-01-31", "2026-02-28", "2026-03-31"]
OWN, OTHER, THIRD, FOURTH = "24133", "24121", "24175", "24154"
PROCEDURE = "1.001193"


# Emptied before each test: the computed figures count every dossier, feedback and assignment.
COMPUTED_TABLES = (
    IndicatorValue, IndicatorPeriod, IndicatorMilestone, Indicator, DossierEventRow, Dossier,
    Feedback, Assignment,
)  # fmt: skip


@pytest.fixture(scope="module")
def computed_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with own_database(database_url, tmp_path_factory, "computed") as url:
        yield url


@pytest.fixture
def computed_engine(computed_database_url: str) -> Iterator[Engine]:
    with emptied(computed_database_url, COMPUTED_TABLES) as engine:
        yield engine


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(
    local_env: WorkflowEnvironment,
    computed_database_url: str,
    computed_engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
    clock: Clock,
) -> AsyncIterator[ApiClient]:
    async with judged_at(
        clock, local_env, computed_database_url, computed_engine, task_queue, executor
    ) as client:
        yield client


def vn(text: str) -> datetime:
    """A moment as Vietnam's clocks show it: "2026-02-28 23:30"."""
    return datetime.fromisoformat(text).replace(tzinfo=VIETNAM)


def code_of(prefix: str) -> str:
    # The workflow engine is shared with other modules: schedules are named by the code.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def computed(code: str, source: str, **more: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": "Tỷ lệ hồ sơ giải quyết đúng hạn",
        "kind": "percent",
        "scope": "province",
        "unit_of_measure": "%",
        "group": "Tự tính",
        "responsible": "VP UBND tỉnh",
        "baseline_on": "2026-01-01",
        "milestones": [{"date": "2026-12-31", "target": 80}],
        "source": source,
        **more,
    }


async def created(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = await api.request("POST", INDICATORS, json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def status_of(api: ApiClient, code: str) -> dict[str, Any]:
    answer = await api.request("GET", f"{INDICATORS}/{code}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def points(series: dict[str, Any], values: list[dict[str, Any]]) -> list[tuple[str, float]]:
    unit = series["unit_code"]
    return [(v["as_of"], v["value"]) for v in values if v["unit_code"] == unit]


def store_dossiers(
    engine: Engine, dossiers: Sequence[tuple[str, str, datetime | None, str]]
) -> None:
    """(commune, end state's timeliness, result time or None when refused, status)."""
    rows = []
    for number, (commune, timeliness, result_at, status) in enumerate(dossiers):
        ended = result_at or vn("2026-03-10 09:00")
        rows.append(
            {
                "receipt_code": f"TT{uuid.uuid4().hex[:10]}{number}",
                "procedure_code": PROCEDURE,
                "commune_code": commune,
                "applicant_reference": "Nguyễn Văn A",
                "received_at": vn("2025-12-01 08:00"),
                "status": status,
                "timeliness": timeliness,
                "level": "commune",
                "result_at": result_at,
                "closed_at": ended if status != "processing" else None,
                "updated_at": ended,
            }
        )
    with Session(engine) as session, session.begin():
        session.execute(insert(Dossier), rows)


async def test_the_share_of_dossiers_on_time_as_of_each_month_end(
    api: ApiClient, computed_engine: Engine
) -> None:
    store_dossiers(
        computed_engine,
        [
            (OWN, "on_time", vn("2026-01-10 10:00"), "result_ready"),
            (OWN, "early", vn("2026-01-20 10:00"), "result_ready"),
            (OTHER, "late", vn("2026-01-25 10:00"), "result_ready"),
            (OWN, "late", vn("2026-02-15 10:00"), "result_ready"),
            # Half an hour before February ends in Vietnam (16:30 UTC): February's.
            (OTHER, "on_time", vn("2026-02-28 23:30"), "result_ready"),
            # Half an hour after (17:30 UTC on 28 February): March's.
            (OTHER, "on_time", vn("2026-03-01 00:30"), "result_ready"),
            # Refused on 10 March in time: it ended, and counts as ended on time.
            (OTHER, "on_time", None, "refused"),
            # Before the series' start, after the last month that is over, still open: none.
            (OWN, "late", vn("2025-12-31 10:00"), "result_ready"),
            (OWN, "late", vn("2026-04-02 10:00"), "result_ready"),
            (OWN, "within_limit", None, "processing"),
        ],
    )
    province = code_of("HS-TINH")
    public = await created(api, computed(province, "dossiers_on_time"))
    assert (public["source"], public["version"]) == ("dossiers_on_time", 1)
    assert public["source_vi"].startswith(
        "Tính từ hồ sơ thủ tục hành chính: tỷ lệ hồ sơ giải quyết đúng hạn"
    )
    read = await status_of(api, province)
    # Cumulative from 1 January: 2 of 3 in time, 3 of 5, 5 of 7.
    assert points(read["series"][0], read["values"]) == [
        ("2026-01-31", 66.67), ("2026-02-28", 60.0), ("2026-03-31", 71.43),
    ]  # fmt: skip
    assert [(v["note"].split(" ")[0], v["reported_by"], v["counts"]) for v in read["values"]] == [
        ("2/3", "computed", True), ("3/5", "computed", True), ("5/7", "computed", True),
    ]  # fmt: skip

    commune = code_of("HS-XA")
    await created(api, computed(commune, "dossiers_on_time", scope="commune"))
    read = await status_of(api, commune)
    by_unit = {s["unit_code"]: points(s, read["values"]) for s in read["series"]}
    assert len(by_unit) == 102
    # Own: 2 of 2, then 2 of 3; the other: 0 of 1, 1 of 2, 3 of 4; the rest: nothing.
    assert by_unit[OWN] == [("2026-01-31", 100.0), ("2026-02-28", 66.67), ("2026-03-31", 66.67)]
    assert by_unit[OTHER] == [("2026-01-31", 0.0), ("2026-02-28", 50.0), ("2026-03-31", 75.0)]
    assert by_unit[THIRD] == []
    assert read["counts"]["grey"] == 100


async def test_the_share_of_feedback_answered_in_time_as_of_each_month_end(
    api: ApiClient, computed_engine: Engine
) -> None:
    # (answer due, answered on time?, escalation level): the scores' judgement.
    feedback = [
        (vn("2026-01-12 17:00"), True, 0),
        (vn("2026-01-20 17:00"), False, 0),  # answered late
        (vn("2026-01-28 17:00"), None, 1),  # unanswered, escalated: judged, not in time
        (vn("2026-01-30 17:00"), None, 0),  # unanswered, not escalated: not judged yet
        (vn("2026-02-10 17:00"), True, 0),
        (vn("2026-04-03 17:00"), True, 0),  # due after March: not yet
    ]
    with Session(computed_engine) as session, session.begin():
        session.execute(
            insert(Feedback),
            [
                {
                    "receipt_code": f"PA{uuid.uuid4().hex[:10]}{number}",
                    "commune_code": OWN,
                    "description": "Đèn đường hỏng",
                    "status": "answered" if on_time is not None else "routed",
                    "requested_at": vn("2026-01-02 08:00"),
                    "answer_due_at": due,
                    "answered_at": due if on_time is not None else None,
                    "answered_on_time": on_time,
                    "escalation_level": level,
                    "updated_at": due,
                }
                for number, (due, on_time, level) in enumerate(feedback)
            ],
        )
    code = code_of("PA")
    await created(
        api,
        computed(code, "feedback_answered_in_time", name="Tỷ lệ phản ánh trả lời đúng hạn"),
    )
    read = await status_of(api, code)
    # 1 of 3 judged in January; 2 of 4 by February, and still in March.
    assert points(read["series"][0], read["values"]) == [
        ("2026-01-31", 33.33), ("2026-02-28", 50.0), ("2026-03-31", 50.0),
    ]  # fmt: skip
    assert read["source_en"].startswith("Computed from citizens' feedback")


async def test_the_communes_with_every_assignment_accepted_as_of_each_month_end(
    api: ApiClient, computed_engine: Engine
) -> None:
    # (commune, deadline, status, completed at)
    tasks = [
        (OWN, vn("2026-01-15 17:00"), "completed", vn("2026-01-20 09:00")),
        (OWN, vn("2026-02-10 17:00"), "completed", vn("2026-03-05 09:00")),
        (OTHER, vn("2026-01-20 17:00"), "completed", vn("2026-02-02 09:00")),
        (THIRD, vn("2026-02-05 17:00"), "cancelled", None),  # recalled: nobody's
        (THIRD, vn("2026-03-20 17:00"), "reported", None),
        (FOURTH, vn("2025-12-20 17:00"), "notified", None),  # before the series' start
        (FOURTH, vn("2026-03-03 17:00"), "completed", vn("2026-03-03 10:00")),
    ]
    with Session(computed_engine) as session, session.begin():
        directive_ids = []
        for number in range(len(tasks)):
            directive = Directive(
                title=f"Nhiệm vụ {number}",
                body="Báo cáo",
                status="active",
                revision=1,
                issued_at=vn("2025-12-01 08:00"),
                issued_by="steering_office:test",
                communes=[],
                policy=policy_to_json(DirectivePolicy()),
                updated_at=vn("2025-12-01 08:00"),
            )
            session.add(directive)
            session.flush()
            directive_ids.append(directive.id)
        session.execute(
            insert(Assignment),
            [
                {
                    "directive_id": directive_id,
                    "commune_code": commune,
                    "issued_at": vn("2025-12-01 08:00"),
                    "status": status,
                    "timeliness": "on_time",
                    "deadline": deadline,
                    "original_deadline": deadline,
                    "completed_at": completed_at,
                    "updated_at": deadline,
                }
                for directive_id, (commune, deadline, status, completed_at) in zip(
                    directive_ids, tasks, strict=True
                )
            ],
        )
    code = code_of("XA-DU")
    body = computed(
        code,
        "communes_all_accepted",
        name="Số xã hoàn thành mọi nhiệm vụ",
        kind="count",
        unit_of_measure="xã",
        milestones=[{"date": "2026-12-31", "target": 102}],
    )
    await created(api, body)
    read = await status_of(api, code)
    # January: own yes, the other's task completed only in February; February: own's second
    # completed only in March, the other yes; March: own, the other and the fourth, not the
    # third (its March task is reported, not accepted).
    assert points(read["series"][0], read["values"]) == [
        ("2026-01-31", 1.0), ("2026-02-28", 1.0), ("2026-03-31", 3.0),
    ]  # fmt: skip
    assert [v["note"].split(" ")[0] for v in read["values"]] == ["1/2", "1/2", "3/4"]


async def test_a_computed_indicator_refuses_values_and_must_fit_its_records(
    api: ApiClient,
) -> None:
    code = code_of("HS")
    await created(api, computed(code, "dossiers_on_time"))
    refused = await api.request(
        "POST", f"{INDICATORS}/{code}/values", json={"as_of": "2026-03-31", "value": 70}
    )
    assert refused.status_code == 409, refused.text
    assert "dossiers_on_time" in refused.json()["detail"]
    assert (await status_of(api, code))["values"] == []

    for source, changes in (
        ("dossiers_on_time", {"kind": "count"}),
        ("feedback_answered_in_time", {"scope": "agency"}),
        ("communes_all_accepted", {"kind": "count", "scope": "commune"}),
        ("communes_all_accepted", {}),
    ):
        bad = await api.request("POST", INDICATORS, json=computed(code_of("X"), source, **changes))
        assert bad.status_code == 422, (source, changes, bad.text)

    reported = code_of("RP")
    await created(api, computed(reported, "reported", kind="count"))
    unfit = await api.request(
        "PATCH", f"{INDICATORS}/{reported}", json={"source": "dossiers_on_time"}
    )
    assert unfit.status_code == 422, unfit.text
    share = code_of("RP")
    await created(api, computed(share, "reported"))
    changed = await api.request(
        "PATCH", f"{INDICATORS}/{share}", json={"source": "feedback_answered_in_time"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["source"], changed.json()["version"]) == (
        "feedback_answered_in_time", 2,
    )  # fmt: skip


async def test_a_computed_indicators_period_opens_no_tasks_and_it_has_no_schedule(
    api: ApiClient, task_queue: str, computed_database_url: str
) -> None:
    code = code_of("HS-XA")
    await created(api, computed(code, "dossiers_on_time", scope="commune"))
    answer = await api.request("POST", f"{INDICATORS}/{code}/periods")
    assert answer.status_code == 201, answer.text
    period = answer.json()
    assert (period["period_start"], period["directive_id"], period["tasks"]) == (
        "2026-03-01", None, 0,
    )  # fmt: skip
    assert period["note"] == no_tasks_computed("dossiers_on_time")
    listed = (await api.request("GET", f"{INDICATORS}/{code}/periods")).json()
    assert listed["count"] == 1 and listed["data"][0]["note"] == period["note"]
    assert listed["data"][0]["counts"]["tasks"] == 0

    # No schedule opens its periods: the reconciler leaves none, keep_schedule makes none.
    settings = cast(Settings, SimpleNamespace(task_queue=task_queue))
    engine = make_async_engine(computed_database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            await reconcile_schedules(session, api.temporal, settings)
    finally:
        await engine.dispose()
    with pytest.raises(RPCError):
        await api.temporal.get_schedule_handle(indicator_schedule_id(code)).describe()
    done = await keep_schedule(
        api.temporal, settings, code, "commune", "monthly", "dossiers_on_time"
    )
    assert done == "kept"
    with pytest.raises(RPCError):
        await api.temporal.get_schedule_handle(indicator_schedule_id(code)).describe()


async def test_a_computed_share_moving_fast_enough_is_green_with_its_projected_date(
    api: ApiClient, computed_engine: Engine
) -> None:
    # 60 of 100 in time in January, 66 of 100 more in February, 72 of 100 in March: 60 %,
    # 63 % and 66 % as of the month ends, the series tests/api/test_indicators_api.py
    # reports by hand, judged the same.
    dossiers = []
    for day, in_time in (("2026-01-15", 60), ("2026-02-15", 66), ("2026-03-15", 72)):
        for number in range(100):
            timeliness = "on_time" if number < in_time else "late"
            dossiers.append((OWN, timeliness, vn(f"{day} 10:00"), "result_ready"))
    store_dossiers(computed_engine, dossiers)
    code = code_of("HS")
    await created(api, computed(code, "dossiers_on_time"))
    read = await status_of(api, code)
    assert read["colour"] == "green"
    series = read["series"][0]
    assert {k: series[k] for k in (
        "colour", "met", "latest_value", "latest_on", "projected_on", "pace_per_month",
        "pace_required_per_month", "days_left", "projected_from", "last_period_reported",
    )} == {
        "colour": "green", "met": False, "latest_value": 66.0, "latest_on": "2026-03-31",
        # The least-squares line: 177/1742 a day, 3.0927 a month, reaches 80 on 16 August.
        "projected_on": "2026-08-16", "pace_per_month": 3.0927,
        "pace_required_per_month": 1.608, "days_left": 265,
        "projected_from": MONTH_ENDS, "last_period_reported": True,
    }  # fmt: skip

    board = (await api.request("GET", f"{INDICATORS}/board", params={"group": "Tự tính"})).json()
    assert [(e["code"], e["colour"]) for e in board["indicators"]] == [(code, "green")]
    # The export's status columns, and the scenario, read the computed points as values.
    exported = await api.request("GET", f"{INDICATORS}/export", params={"group": "Tự tính"})
    assert exported.status_code == 200, exported.text
    header, row = (
        load_workbook(io.BytesIO(exported.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert row[1] == code
    assert tuple(row[header.index("Mức độ") :]) == (
        "Xanh", datetime(2026, 8, 16), 3.0927, 1.608, 66, datetime(2026, 3, 31), 265,
    )  # fmt: skip
    scenario = await api.request(
        "POST", f"{INDICATORS}/{code}/scenario", json={"target_date": "2026-09-30"}
    )
    assert scenario.status_code == 200, scenario.text
    assert {k: scenario.json()[k] for k in ("from_value", "from_on", "from_baseline")} == {
        "from_value": 66.0, "from_on": "2026-03-31", "from_baseline": False,
    }  # fmt: skip
