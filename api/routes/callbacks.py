"""Delivery reports from the gateways. eSMS calls back with a GET and retries up to five
times, so a report is applied idempotently; one that names no SMS of ours changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select, update

from api.deps import SessionDep
from db.models import Delivery, OutboxEntry

router = APIRouter(prefix="/callbacks", tags=["callbacks"])
# eSMS SendStatus: 5 delivered, 4 rejected, 7 waiting.
ESMS_STATUSES = {"5": "delivered", "4": "rejected", "7": "waiting"}
DETAILS = {
    "delivered": "SMS delivered to the phone",
    "rejected": "SMS rejected by the operator",
    "waiting": "SMS waiting at the operator",
}


@router.get("/esms", include_in_schema=False)
async def esms_report(
    session: SessionDep,
    sms_id: Annotated[str, Query(alias="SMSID", max_length=100)],
    request_id: Annotated[str, Query(alias="RequestId", max_length=100)],
    send_status: Annotated[str, Query(alias="SendStatus", max_length=4)],
) -> dict[str, str]:
    """Record what became of one SMS. The pair SMSID + RequestId must match a send of ours:
    RequestId is the send's own key, which only eSMS and we know."""
    reported = ESMS_STATUSES.get(send_status)
    if reported is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown SendStatus")
    entry = await session.scalar(
        select(OutboxEntry).where(
            OutboxEntry.channel == "sms", OutboxEntry.provider_message_id == sms_id
        )
    )
    if entry is None or entry.idempotency_key[:50] != request_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such SMS")
    if entry.provider_status != "delivered":
        # A late "waiting" never undoes "delivered".
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
