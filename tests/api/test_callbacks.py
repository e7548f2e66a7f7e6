"""eSMS delivery reports over HTTP: applied once however often eSMS repeats them; a report
that names no SMS of ours, or the wrong key for it, changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.models import Delivery, OutboxEntry
from tests.conftest import ApiClient

CALLBACK = "/api/v1/callbacks/esms"


async def test_an_esms_report_is_applied_once_and_a_forged_one_changes_nothing(
    api: ApiClient, engine: Engine
) -> None:
    key = f"notify:test:{uuid.uuid4().hex}"
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

    def stored() -> tuple[str | None, str]:
        with Session(engine) as session:
            entry = session.scalar(select(OutboxEntry).where(OutboxEntry.notification_key == key))
            delivery = session.scalar(select(Delivery).where(Delivery.notification_key == key))
            assert entry is not None and delivery is not None
            return entry.provider_status, delivery.detail

    forged = [
        ({"SMSID": sms_id, "RequestId": "axis-guessed", "SendStatus": "4"}, 404),
        ({"SMSID": "sms-unknown", "RequestId": request_id, "SendStatus": "4"}, 404),
        ({"SMSID": sms_id, "RequestId": request_id, "SendStatus": "9"}, 422),
        ({"SMSID": sms_id, "RequestId": request_id}, 422),
    ]
    for params, code in forged:
        assert (await api.http.get(CALLBACK, params=params)).status_code == code
    assert stored() == (None, "")

    report = {"SMSID": sms_id, "RequestId": request_id, "SendStatus": "5", "SendSuccess": "1"}
    answers = [await api.http.get(CALLBACK, params=report) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    late = await api.http.get(CALLBACK, params={**report, "SendStatus": "7"})
    assert late.json() == {"status": "delivered"}
    assert stored() == ("delivered", "SMS delivered to the phone")
