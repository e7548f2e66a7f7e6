"""Delivery reports from the gateways. eSMS calls back with a GET on the CallbackUrl we sent,
`/api/v1/callbacks/esms/<secret>`, and retries up to five times, so a report is applied
idempotently. Without the installation's secret a report answers 404 and changes nothing, as
does one that names no SMS of ours: RequestId alone is a key a guesser may come to know."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import select, update

from activities.channels.esms import callback_secrets
from api.routes.links import link_keys
from db.models import Delivery, OutboxEntry
from serving.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/callbacks", tags=["callbacks"])
NOT_FOUND = "no such SMS"


# Every SendStatus eSMS documents (https://developers.esms.vn/en/esms-api/callback-url):
# 1 pending approval, 2 waiting to be sent, 4 rejected, 5 delivered, 7 at the operator waiting
# for its report. Each is answered 200; eSMS repeats a report it had no answer to.
ESMS_STATUSES = {
    "1": "pending",
    "2": "queued",
    "4": "rejected",
    "5": "delivered",
    "7": "waiting",
}
DETAILS = {
    "pending": "SMS waiting for eSMS's approval",
    "queued": "SMS waiting to be sent by eSMS",
    "delivered": "SMS delivered to the phone",
    "rejected": "SMS rejected by the operator",
    "waiting": "SMS waiting at the operator",
}
# What an SMS ended as: a report of an earlier step, arriving late, changes nothing.
FINAL_STATUSES = frozenset({"delivered", "rejected"})


def _known_secret(request: Request, settings: SettingsDep, given: str) -> bool:
    accepted = callback_secrets(settings.esms_callback_secret, link_keys(request, settings))
    # Every candidate is compared, in constant time each, so timing tells nothing of which
    # or how much matched.
    matches = [hmac.compare_digest(given.encode(), secret.encode()) for secret in accepted]
    return any(matches)


@router.get("/esms/{secret}", include_in_schema=False)
async def esms_report(
    secret: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    sms_id: Annotated[str | None, Query(alias="SMSID", max_length=100)] = None,
    request_id: Annotated[str | None, Query(alias="RequestId", max_length=100)] = None,
    send_status: Annotated[str | None, Query(alias="SendStatus", max_length=4)] = None,
) -> dict[str, str]:
    """Record what became of one SMS. The secret comes first, so a caller without it learns
    nothing, not even which parameters are missing; then the pair SMSID + RequestId must
    match a send of ours."""
    if not _known_secret(request, settings, secret):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    if sms_id is None or request_id is None or send_status is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "SMSID, RequestId and SendStatus are required"
        )
    reported = ESMS_STATUSES.get(send_status)
    if reported is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown SendStatus")
    entry = await session.scalar(
        select(OutboxEntry).where(
            OutboxEntry.channel == "sms", OutboxEntry.provider_message_id == sms_id
        )
    )
    if entry is None or entry.idempotency_key[:50] != request_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    if entry.provider_status not in FINAL_STATUSES:
        # A late "waiting" never undoes "delivered" or "rejected".
        entry.provider_status = reported
        entry.updated_at = datetime.now(UTC)
        await session.execute(
            update(Delivery)
            .where(
                Delivery.notification_key == entry.notification_key,
                Delivery.channel == "sms",
            )
            .values(detail=DETAILS[reported])
        )
        await session.commit()
    return {"status": entry.provider_status or reported}
