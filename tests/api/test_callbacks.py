"""eSMS delivery reports over HTTP: applied once however often eSMS repeats them; a report
without the installation's secret in its path, that names no SMS of ours, or gives the wrong
key for it, changes nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from activities.channels.esms import callback_secrets
from activities.links import resolve_link_keys
from api.access_log import RedactSecretPaths, redact
from config import Settings
from db.models import Delivery, OutboxEntry
from tests.conftest import ApiClient, api_app

CALLBACK = "/api/v1/callbacks/esms"
CONFIGURED_SECRET = "c" * 40


def sent_sms(engine: Engine) -> tuple[str, str, Callable[[], tuple[str | None, str]]]:
    """An SMS of ours, sent and not yet reported: its SMSID, its RequestId, and a reader of
    what is stored about it (the outbox's provider status, the delivery's detail)."""
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

    return sms_id, request_id, stored


async def test_an_esms_report_is_applied_once_and_a_forged_one_changes_nothing(
    api: ApiClient, engine: Engine
) -> None:
    sms_id, request_id, stored = sent_sms(engine)
    # Unconfigured, as `make run`: the secret derived from the installation's link keys.
    settings = Settings()
    [secret] = callback_secrets(None, resolve_link_keys(settings.link_keys, settings.data_dir))
    callback = f"{CALLBACK}/{secret}"
    forged = [
        ({"SMSID": sms_id, "RequestId": "axis-guessed", "SendStatus": "4"}, 404),
        ({"SMSID": "sms-unknown", "RequestId": request_id, "SendStatus": "4"}, 404),
        ({"SMSID": sms_id, "RequestId": request_id, "SendStatus": "9"}, 422),
        ({"SMSID": sms_id, "RequestId": request_id}, 422),
    ]
    for params, code in forged:
        assert (await api.http.get(callback, params=params)).status_code == code
    assert stored() == (None, "")

    report = {"SMSID": sms_id, "RequestId": request_id, "SendStatus": "5", "SendSuccess": "1"}
    answers = [await api.http.get(callback, params=report) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    late = await api.http.get(callback, params={**report, "SendStatus": "7"})
    assert late.json() == {"status": "delivered"}
    assert stored() == ("delivered", "SMS delivered to the phone")


async def test_a_report_without_the_installations_secret_changes_nothing(
    local_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    task_queue: str,
    executor: ThreadPoolExecutor,
) -> None:
    sms_id, request_id, stored = sent_sms(engine)
    report = {"SMSID": sms_id, "RequestId": request_id, "SendStatus": "4"}
    settings = Settings()
    [derived] = callback_secrets(None, resolve_link_keys(settings.link_keys, settings.data_dir))
    async with api_app(
        local_env,
        database_url,
        engine,
        task_queue,
        executor,
        esms_callback_secret=CONFIGURED_SECRET,
    ) as (api, _):
        refused = [
            # The path of earlier versions, which carried no secret.
            await api.http.get(CALLBACK, params=report),
            await api.http.get(f"{CALLBACK}/", params=report),
            await api.http.get(f"{CALLBACK}/wrong", params=report),
            await api.http.get(f"{CALLBACK}/{CONFIGURED_SECRET[:-1]}", params=report),
            await api.http.get(f"{CALLBACK}/{CONFIGURED_SECRET}c", params=report),
            # A configured secret replaces the derived one.
            await api.http.get(f"{CALLBACK}/{derived}", params=report),
            # Without the secret not even a missing parameter is told.
            await api.http.get(f"{CALLBACK}/wrong"),
        ]
        assert [a.status_code for a in refused] == [404] * len(refused)
        assert stored() == (None, "")
        accepted = await api.http.get(f"{CALLBACK}/{CONFIGURED_SECRET}", params=report)
    assert (accepted.status_code, accepted.json()) == (200, {"status": "rejected"})
    assert stored() == ("rejected", "SMS rejected by the operator")


async def test_the_secret_stays_out_of_the_access_log(api: ApiClient) -> None:
    # uvicorn.access formats '%s - "%s %s HTTP/%s" %d' from (client, method, path, version, status).
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.9:5000", "GET", f"{CALLBACK}/{CONFIGURED_SECRET}?SMSID=sms-1", "1.1", 200),
        None,
    )
    assert RedactSecretPaths().filter(record)
    assert record.getMessage() == (f'10.0.0.9:5000 - "GET {CALLBACK}/…?SMSID=sms-1 HTTP/1.1" 200')
    # The app installs the filter once, however many apps a process makes.
    installed = logging.getLogger("uvicorn.access").filters
    assert [type(f) for f in installed].count(RedactSecretPaths) == 1
    # A one-click acknowledgement link is as secret as the callback's path.
    assert redact("/a/eyJkIjo0Mn0.c2ln?x=1") == "/a/…?x=1"
    assert redact("/api/v1/assignments") == "/api/v1/assignments"
