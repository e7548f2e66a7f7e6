"""Start the workflows of dossiers and feedback stored while Temporal was down: their first
write (seq 1) never came. Safe to repeat: USE_EXISTING makes a start of a running one harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from db.models import Dossier, Feedback
from services.catchup import RunningApp
from services.dossiers import start_dossier
from services.feedback import start_feedback

RESUME_AFTER = timedelta(seconds=30)
BATCH = 200


async def resume_unstarted_cases(app: RunningApp) -> int:
    """Start every dossier and feedback without a first write after RESUME_AFTER; returns how
    many it tried."""
    cutoff = datetime.now(UTC) - RESUME_AFTER
    async with app.state.sessions() as session:
        dossiers = list(
            await session.scalars(
                select(Dossier)
                .where(Dossier.seq == 0, Dossier.updated_at < cutoff, Dossier.due_at.is_not(None))
                .limit(BATCH)
            )
        )
        feedback = list(
            await session.scalars(
                select(Feedback).where(Feedback.seq == 0, Feedback.updated_at < cutoff).limit(BATCH)
            )
        )
    if not dossiers and not feedback:
        return 0
    client = await app.state.temporal.get()
    for dossier in dossiers:
        await start_dossier(client, app.state.settings, dossier)
    for item in feedback:
        await start_feedback(client, app.state.settings, item)
    return len(dossiers) + len(feedback)
