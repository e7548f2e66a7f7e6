"""A dossier or feedback stored while Temporal was away is started by the reconciler."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.models import Dossier, Feedback
from services.case_recovery import resume_unstarted_cases
from tests.api.test_directives_api import eventually
from tests.api.test_health_and_recovery import closed_port, serve
from tests.api.test_procedures_api import DOSSIERS, dossier_body
from tests.conftest import running_worker, temporal_address
from tests.procedure_factories import store_dossier, store_feedback


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count(Dossier.id))) or 0)


async def test_cases_stored_but_never_started_are_started_by_the_reconciler(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    # Temporal away: refused before anything is stored.
    before = count(engine)
    async with serve(database_url, closed_port()) as (_, http, _):
        refused = await http.post(DOSSIERS, json=dossier_body())
    assert refused.status_code == 503
    assert refused.json()["detail"].endswith("is not reachable")
    assert count(engine) == before
    # A citizen's feedback is taken all the same, and started later.
    async with serve(database_url, closed_port()) as (_, http, _):
        taken = await http.post(
            "/api/v1/open311/requests.json", data={"description": "Mất nước ở phường Tân An"}
        )
    assert taken.status_code == 200, taken.text
    offline_id = int(taken.json()[0]["service_request_id"])
    # What an API process that died between storing and starting leaves behind.
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    dossier = store_dossier(engine, "1.010038", "24133", earlier)
    feedback = store_feedback(engine, "Ổ gà lớn trên đường ở xã Ea Kar", earlier)
    with Session(engine) as session, session.begin():
        session.execute(
            update(Feedback).where(Feedback.id == offline_id).values(updated_at=earlier)
        )
    async with (
        running_worker(local_env.client, engine, task_queue, executor),
        serve(database_url, temporal_address(local_env), task_queue) as (app, _, _),
    ):
        assert await resume_unstarted_cases(app) >= 3

        async def started() -> None:
            with Session(engine) as session:
                stored = session.get(Dossier, dossier.dossier_id)
                routed = session.get(Feedback, feedback.feedback_id)
                assert stored is not None and stored.seq >= 1
                assert routed is not None and (routed.status, routed.commune_code) == (
                    "routed",
                    "24373",
                )
                offline = session.get(Feedback, offline_id)
                assert offline is not None and offline.commune_code == "24163"

        await eventually(started)
