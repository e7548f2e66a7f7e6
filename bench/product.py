"""The product as a client sees it: a directive issued through the HTTP API, and its fan-out
watched in the database rows it writes (assignments and issue notices). Nothing here asks a
workflow: whatever the product does inside, it is measured by what it answers and records."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.models import Assignment, Notification

API = "/api/v1"
# Long enough that no deadline, reminder or escalation of the default policy falls in a run.
FAR_DEADLINE = timedelta(days=30)
FAN_OUT_TIMEOUT = 900.0


async def issue(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    communes: Sequence[str],
    deadline: datetime | None = None,
    **policy: Any,
) -> int:
    """POST /directives for these communes (named always: the scratch database holds more
    communes than the province's); `policy` adds request fields such as reminder_offsets."""
    answer = await http.post(
        f"{API}/directives",
        headers=headers,
        json={
            "title": f"Benchmark {uuid.uuid4().hex[:6]}",
            "body": "Mỗi xã, phường gửi báo cáo kết quả kèm minh chứng.",
            "deadline": (deadline or datetime.now(UTC) + FAR_DEADLINE).isoformat(),
            "communes": list(communes),
            **policy,
        },
    )
    if answer.status_code not in (200, 201, 202):
        raise RuntimeError(f"issuing failed: {answer.status_code} {answer.text}")
    directive_id: int = answer.json()["id"]
    return directive_id


def fan_out_counts(engine: Engine, directive_ids: Sequence[int]) -> tuple[int, int]:
    """Assignment rows, and communes with their issue notice recorded, of these directives."""
    with Session(engine) as session:
        assigned = session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.directive_id.in_(directive_ids))
        )
        # One notice per person: a commune with two leaders counts once.
        noticed = session.scalar(
            select(func.count()).select_from(
                select(Notification.directive_id, Notification.commune_code)
                .where(
                    Notification.directive_id.in_(directive_ids),
                    Notification.kind == "issued",
                )
                .distinct()
                .subquery()
            )
        )
        return assigned or 0, noticed or 0


async def until_fanned_out(
    engine: Engine,
    directive_ids: Sequence[int],
    communes: int,
    poll: float = 0.02,
    seconds: float = FAN_OUT_TIMEOUT,
) -> None:
    """Until every assignment row exists and every issue notice is recorded: `communes` of
    each, over all these directives."""
    deadline = time.monotonic() + seconds
    while True:
        assigned, noticed = await asyncio.to_thread(fan_out_counts, engine, directive_ids)
        if assigned >= communes and noticed >= communes:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"directives {list(directive_ids)[:5]}…: {assigned} assignments and {noticed} "
                f"issue notices of {communes} after {seconds:.0f} s"
            )
        await asyncio.sleep(poll)
