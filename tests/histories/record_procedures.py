"""Record the histories of the dossier and feedback workflows that CI replays, into a new
version folder of the archive (tests/histories/README.md), never over a file it holds:

    python -m tests.histories.record_procedures [<name>]     (also run by `make histories`)

A late dossier (apology, both escalation steps), a dossier paused for a supplement, a refused
one; a feedback escalated then answered and rated, and one forwarded and answered."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine
from db.migrate import load_communes, upgrade
from db.procedures import load_procedures
from db.roster import DEMO_ROSTER, import_roster
from tests.conftest import TEST_SERVER, running_worker
from tests.histories.archive import claim, version_folder, write
from tests.procedure_factories import store_dossier, store_feedback
from tests.workflows.helpers import DAY, advance_to
from vocabulary.cases import Level, dossier_workflow_id, feedback_workflow_id
from worker import ACTIVITY_THREADS
from workflows.dossier import DossierWorkflow
from workflows.feedback import FeedbackWorkflow
from workflows.procedure_types import AnswerInput, DossierStepInput, ForwardInput, RateInput

NAMES = [
    "dossier-late-apologised-escalated",
    "dossier-supplemented-transferred",
    "dossier-refused",
    "feedback-escalated-answered-rated",
    "feedback-forwarded-answered",
]


async def record(out: Path) -> list[Path]:
    scratch = Path(tempfile.mkdtemp(prefix="histories-"))
    url = f"sqlite:///{scratch / 'axis.db'}"
    upgrade(url)
    engine = make_engine(url)
    load_communes(engine)
    load_procedures(engine)
    import_roster(engine, DEMO_ROSTER, demo=True)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    written: list[Path] = []
    officer = "commune_leader:demo"
    try:
        t0 = await env.get_current_time()
        queue = f"histories-{uuid.uuid4().hex[:8]}"
        late = store_dossier(engine, "1.010038", "24133", t0)
        paused = store_dossier(engine, "1.010038", "24121", t0)
        refused = store_dossier(engine, "1.010038", "24163", t0)
        escalated = store_feedback(engine, "Đèn đường xã Ea Kar hỏng cả tuần", t0)
        forwarded = store_feedback(engine, "mat nuoc o phuong tan an", t0)
        with ThreadPoolExecutor(ACTIVITY_THREADS) as pool:
            async with running_worker(env.client, engine, queue, pool):
                dossiers = {
                    r.dossier_id: await env.client.start_workflow(
                        DossierWorkflow.run,
                        r,
                        id=dossier_workflow_id(r.dossier_id),
                        task_queue=queue,
                    )
                    for r in (late, paused, refused)
                }
                feedbacks = {
                    r.feedback_id: await env.client.start_workflow(
                        FeedbackWorkflow.run,
                        r,
                        id=feedback_workflow_id(r.feedback_id),
                        task_queue=queue,
                    )
                    for r in (escalated, forwarded)
                }
                step = DossierStepInput(actor=officer)
                d_late, d_paused, d_refused = dossiers.values()
                f_escalated, f_forwarded = feedbacks.values()
                await advance_to(env, t0 + DAY)
                await d_paused.execute_update(DossierWorkflow.start_processing, step)
                await d_paused.execute_update(
                    DossierWorkflow.request_supplement,
                    DossierStepInput(actor=officer, reason="thiếu giấy tờ"),
                )
                await d_refused.execute_update(
                    DossierWorkflow.refuse, DossierStepInput(actor=officer, reason="không đủ")
                )
                await f_forwarded.execute_update(
                    FeedbackWorkflow.forward,
                    ForwardInput(actor=officer, from_commune="24163", to_commune="24121"),
                )
                await f_forwarded.execute_update(
                    FeedbackWorkflow.answer,
                    AnswerInput(actor=officer, commune_code="24121", text="Đã xử lý"),
                )
                await advance_to(env, t0 + 3 * DAY)
                await d_paused.execute_update(DossierWorkflow.supplement_received, step)
                await d_paused.execute_update(
                    DossierWorkflow.transfer,
                    DossierStepInput(actor=officer, to_level=Level.PROVINCE),
                )
                await d_paused.execute_update(DossierWorkflow.result_ready, step)
                await d_paused.execute_update(DossierWorkflow.returned, step)
                await advance_to(env, t0 + 25 * DAY)
                await d_late.execute_update(DossierWorkflow.result_ready, step)
                await d_late.execute_update(DossierWorkflow.returned, step)
                await f_escalated.execute_update(
                    FeedbackWorkflow.answer,
                    AnswerInput(actor=officer, commune_code="24373", text="Đã thay bóng"),
                )
                await f_escalated.execute_update(FeedbackWorkflow.rate, RateInput(rating=3))
                await advance_to(env, t0 + 40 * DAY)
                handles: list[WorkflowHandle[Any, Any]] = [
                    d_late,
                    d_paused,
                    d_refused,
                    f_escalated,
                    f_forwarded,
                ]
                for handle in handles:
                    await handle.result()
                for handle, name in zip(handles, NAMES, strict=True):
                    written.append(write(out, name, await handle.fetch_history()))
    finally:
        await env.shutdown()
        engine.dispose()
    return written


if __name__ == "__main__":
    folder = claim(version_folder(sys.argv[1] if len(sys.argv) > 1 else None), NAMES)
    for path in asyncio.run(record(folder)):
        sys.stdout.write(f"wrote {path}\n")
