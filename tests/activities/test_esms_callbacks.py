"""eSMS's delivery reports with every SendStatus its documentation lists
(https://developers.esms.vn/en/esms-api/callback-url: 1 pending approval, 2 waiting to be
sent, 4 rejected, 5 delivered, 7 at the operator waiting for its report) are answered 200 and
recorded; a report of an earlier step arriving after the SMS ended (delivered or rejected)
changes nothing. Through HTTP, on the callback route alone, over the test database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session

from api.routes.callbacks import router
from config import Settings
from db.engine import make_async_engine
from db.models import Delivery, OutboxEntry

SECRET = "c" * 40


@pytest.fixture
async def http(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    engine = make_async_engine(database_url, pool_size=2, max_overflow=0)
    app.state.settings = Settings(data_dir=tmp_path, link_keys="k", esms_callback_secret=SECRET)
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://axis.test") as client:
        yield client
    await engine.dispose()


def sent_sms(engine: Engine) -> tuple[dict[str, str], str]:
    """The report parameters naming one SMS of ours, and its notification key."""
    key = f"notify:callbacks:{uuid.uuid4().hex}"
    sms_id, request_id = f"sms-{uuid.uuid4().hex[:8]}", f"axis-{uuid.uuid4().hex[:40]}"
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.add(
            Delivery(
                notification_key=key, state="sent", attempts=1, channel="sms", seq=1, updated_at=now
            )
        )
        session.add(
            OutboxEntry(
                notification_key=key,
                channel="sms",
                status="sent",
                attempts=1,
                idempotency_key=request_id,
                provider_message_id=sms_id,
                sent_at=now,
                updated_at=now,
            )
        )
    return {"SMSID": sms_id, "RequestId": request_id, "SendSuccess": "0"}, key


def stored(engine: Engine, key: str) -> tuple[str | None, str]:
    with Session(engine) as session:
        entry = session.scalars(
            select(OutboxEntry).where(OutboxEntry.notification_key == key)
        ).one()
        delivery = session.scalars(select(Delivery).where(Delivery.notification_key == key)).one()
        return entry.provider_status, delivery.detail


@pytest.mark.parametrize(
    ("status", "recorded", "detail"),
    [
        ("1", "pending", "SMS waiting for eSMS's approval"),
        ("2", "queued", "SMS waiting to be sent by eSMS"),
        ("4", "rejected", "SMS rejected by the operator"),
        ("5", "delivered", "SMS delivered to the phone"),
        ("7", "waiting", "SMS waiting at the operator"),
    ],
)
async def test_every_documented_send_status_is_answered_200_and_recorded(
    http: httpx.AsyncClient, engine: Engine, status: str, recorded: str, detail: str
) -> None:
    report, key = sent_sms(engine)
    answer = await http.get(
        f"/api/v1/callbacks/esms/{SECRET}", params={**report, "SendStatus": status}
    )
    assert (answer.status_code, answer.json()) == (200, {"status": recorded})
    assert stored(engine, key) == (recorded, detail)


@pytest.mark.parametrize("final", ["4", "5"])
async def test_an_earlier_step_reported_late_changes_nothing(
    http: httpx.AsyncClient, engine: Engine, final: str
) -> None:
    report, key = sent_sms(engine)
    url = f"/api/v1/callbacks/esms/{SECRET}"
    steps = [final, "7", "2", "1", final]
    answers = [await http.get(url, params={**report, "SendStatus": s}) for s in steps]
    ended = "rejected" if final == "4" else "delivered"
    assert [(a.status_code, a.json()["status"]) for a in answers] == [(200, ended)] * 5
    assert stored(engine, key)[0] == ended
