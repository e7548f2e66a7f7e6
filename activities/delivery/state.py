"""Where messages stand (the read model's deliveries): each write carries its workflow's
sequence number, and one older than the stored one changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from db.models import Delivery
from db.upsert import insert_ignoring_duplicates
from vocabulary.delivery import DeliveryState, SendStatus
from workflows.delivery_types import DeliveryStateInput, SendInput, SendOutcome


def write_state(engine: Engine, request: DeliveryStateInput) -> None:
    """The state a delivery workflow reports, on a row made for any key that has none."""
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        missing = set(request.notification_keys) - set(
            session.scalars(
                select(Delivery.notification_key).where(
                    Delivery.notification_key.in_(request.notification_keys)
                )
            )
        )
        if missing:
            session.execute(
                insert_ignoring_duplicates(
                    Delivery.__table__,  # type: ignore[arg-type]
                    engine.dialect.name,
                    [
                        {
                            "notification_key": key,
                            "person_id": None,
                            "state": DeliveryState.QUEUED.value,
                            "attempts": 0,
                            "channel": None,
                            "detail": "",
                            "link": "",
                            "seq": 0,
                            "updated_at": now,
                        }
                        for key in sorted(missing)
                    ],
                )
            )
        _advance(
            session,
            request.notification_keys,
            request.seq,
            now,
            state=request.state.value,
            attempts=request.attempts,
            channel=request.channel or None,
            detail=request.detail[:500],
        )


def write_final_state(
    session: Session, request: SendInput, result: SendOutcome, now: datetime
) -> None:
    """Sent or unconfirmed, written by the send itself in the outbox's transaction."""
    if not request.state_keys:
        return
    state = (
        DeliveryState.SENT if result.status == SendStatus.ACCEPTED else DeliveryState.UNCONFIRMED
    )
    _advance(
        session,
        request.state_keys,
        request.state_seq,
        now,
        state=state.value,
        attempts=request.attempts,
        channel=request.channel,
        detail=result.detail[:500],
    )


def _advance(
    session: Session,
    keys: list[str],
    seq: int,
    now: datetime,
    *,
    state: str,
    attempts: int,
    channel: str | None,
    detail: str,
) -> None:
    """Write the state of `keys` whose stored sequence number is older than `seq`."""
    session.execute(
        update(Delivery)
        .where(Delivery.notification_key.in_(keys), Delivery.seq < seq)
        .values(
            state=state,
            attempts=attempts,
            channel=channel,
            detail=detail,
            seq=seq,
            updated_at=now,
        )
    )
