"""The catch-up after a restore at ten times the test's size: 10 directives of 102 communes
(1,020 assignments); a backup after the fan-out; in each directive 40 communes acknowledge,
10 report and the first escalation fires for the other 92; the backup is restored and the
catch-up timed. It checks the read model equals what it was before the restore.

    .venv/bin/python -m bench.catchup [--postgresql]

Prints the rows repaired and the seconds the catch-up took."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from config import Settings
from db import backup
from db.engine import make_engine
from db.models import Commune, Notification
from services.catchup import catch_up
from tests.api.test_directives_api import DIRECTIVES, act, eventually, iso7, opened
from tests.conftest import (
    PUBLIC_URL,
    TEMPORAL_CLI,
    api_app,
    fresh_database,
    running_worker,
)
from tests.recovery.test_backup_restore import read_model
from worker import ACTIVITY_THREADS

DIRECTIVE_COUNT = 10
ACKNOWLEDGING = 40
REPORTING = 10
DEADLINE_AFTER = timedelta(seconds=120)


async def measure(backend: str, folder: Path) -> str:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), ui=False, dev_server_log_level="error"
    )
    task_queue = f"bench-catchup-{uuid.uuid4().hex[:8]}"
    try:
        with (
            fresh_database(backend, folder) as url,
            ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor,
        ):
            engine = make_engine(url)
            settings = Settings(database_url=url, data_dir=folder, temporal_address="unused:1")
            with Session(engine) as session:
                codes = sorted(session.scalars(select(Commune.code)))
            deadline = datetime.now(UTC) + DEADLINE_AFTER
            async with api_app(env, url, engine, task_queue, executor) as (api, _):
                body = {
                    "body": "Báo cáo.",
                    "communes": codes,
                    "deadline": iso7(deadline.replace(microsecond=0)),
                    "escalation": [{"after": "PT1S", "to": "official_in_charge"}],
                }
                answers = await asyncio.gather(
                    *(
                        api.request("POST", DIRECTIVES, json={**body, "title": f"Bench {n}"})
                        for n in range(DIRECTIVE_COUNT)
                    )
                )
                ids = [a.json()["id"] for a in answers]
                for directive_id in ids:
                    await opened(api, directive_id)
                taken = backup.create(settings)
                assert taken.taken_at < deadline, "the fan-out took longer than the deadline"
                acknowledging, reporting = codes[:ACKNOWLEDGING], codes[-REPORTING:]
                tokens = {
                    c: await api.token("commune_leader", c) for c in acknowledging + reporting
                }
                for directive_id in ids:
                    done = await asyncio.gather(
                        *(
                            act(api, tokens[c], directive_id, c, "acknowledge")
                            for c in acknowledging
                        ),
                        *(
                            act(api, tokens[c], directive_id, c, "report", {"summary": "Xong."})
                            for c in reporting
                        ),
                    )
                    assert {a.status_code for a in done} == {200}
                silent = DIRECTIVE_COUNT * (102 - REPORTING)

                async def escalated() -> None:
                    with Session(engine) as session:
                        count = session.scalar(
                            select(func.count())
                            .select_from(Notification)
                            .where(Notification.kind == "escalation")
                        )
                    assert count is not None and count >= silent, count

                await eventually(escalated, 600)
                before = [read_model(engine, d) for d in ids]
            backup.restore(settings, backup.load(taken.folder))
            async with running_worker(env.client, engine, task_queue, executor):
                report = await catch_up(env.client, engine, PUBLIC_URL, since=taken.taken_at)
            after = [read_model(engine, d) for d in ids]
            assert after == before, "the read model differs from before the restore"
            engine.dispose()
            return (
                f"{backend}: {DIRECTIVE_COUNT * 102} assignments, {report.asked} workflows asked, "
                f"{report.total} rows repaired {dict(report.repairs)} in {report.seconds:.2f} s"
            )
    finally:
        await env.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.catchup", description=__doc__)
    parser.add_argument("--postgresql", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        line = asyncio.run(measure("postgresql" if options.postgresql else "sqlite", Path(folder)))
    sys.stdout.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
