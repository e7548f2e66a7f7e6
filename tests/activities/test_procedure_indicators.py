"""Procedure indicators per commune for a period: exact counts and shares for every commune,
in one query each, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, event
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import Dossier, Feedback
from scoring.procedure_indicators import dossier_timeliness, feedback_on_time, satisfaction

START = datetime(2027, 3, 1, tzinfo=UTC)
END = datetime(2027, 4, 1, tzinfo=UTC)
IN = START + timedelta(days=3)
BEFORE = START - timedelta(days=3)


@pytest.fixture(scope="module")
def scratch(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


def dossier(
    n: int, commune: str, timeliness: str, result_at: datetime | None, **more: object
) -> Dossier:
    return Dossier(
        receipt_code=f"IND{n:010d}",
        procedure_code="1.010038",
        commune_code=commune,
        applicant_reference="x",
        received_at=BEFORE,
        due_at=IN,
        original_due_at=IN,
        processing_unit="working_days",
        status="returned" if result_at else "processing",
        timeliness=timeliness,
        result_at=result_at,
        updated_at=IN,
        **more,
    )


def feedback(
    n: int, commune: str, due: datetime, on_time: bool | None, rating: int | None
) -> Feedback:
    return Feedback(
        receipt_code=f"FBK{n:010d}",
        commune_code=commune,
        description="x",
        status="answered" if on_time is not None else "routed",
        requested_at=BEFORE,
        answer_due_at=due,
        answered_at=IN if on_time is not None else None,
        answered_on_time=on_time,
        rating=rating,
        updated_at=IN,
    )


def count_queries(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_indicators_per_commune_in_one_query_each(scratch: Engine) -> None:
    with Session(scratch) as session, session.begin():
        session.execute(delete(Dossier))
        session.execute(delete(Feedback))
        session.add_all(
            [
                dossier(1, "24133", "early", IN),
                dossier(2, "24133", "on_time", IN),
                dossier(3, "24133", "late", IN),
                dossier(4, "24133", "late", IN),
                # Finished before the period, or still open: not counted.
                dossier(5, "24133", "early", BEFORE),
                dossier(6, "24133", "overdue", None),
                # Refused on time: counted by its closing time.
                dossier(7, "24121", "on_time", None, closed_at=IN),
                feedback(1, "24133", IN, True, 5),
                feedback(2, "24133", IN, False, 2),
                feedback(3, "24133", IN, None, None),
                feedback(4, "24121", IN, True, 4),
                feedback(5, "24121", END, True, 3),
            ]
        )
    seen = count_queries(scratch)
    with Session(scratch) as session:
        dossiers = dossier_timeliness(session, START, END)
        answers = feedback_on_time(session, START, END)
        ratings = satisfaction(session, START, END)
    assert len(seen) == 3
    assert len(dossiers) == len(answers) == len(ratings) == 102
    bmt = dossiers["24133"]
    assert (bmt.finished, bmt.early, bmt.on_time, bmt.late) == (4, 1, 1, 2)
    assert (bmt.early_share, bmt.on_time_share, bmt.late_share) == (0.25, 0.5, 0.5)
    assert (dossiers["24121"].finished, dossiers["24121"].on_time_share) == (1, 1.0)
    assert (dossiers["24175"].finished, dossiers["24175"].on_time_share) == (0, None)
    # Judged as the published scores judge it: the unanswered one, not yet escalated, is not
    # owed yet and counts for nobody.
    assert (answers["24133"].due, answers["24133"].answered_on_time) == (2, 1)
    assert answers["24133"].on_time_share == pytest.approx(1 / 2)
    # The one due at the end of the period falls in the next one.
    assert (answers["24121"].due, answers["24121"].on_time_share) == (1, 1.0)
    assert (ratings["24133"].rated, ratings["24133"].mean_rating) == (2, 3.5)
    assert (ratings["24121"].rated, ratings["24121"].mean_rating) == (2, 3.5)
    assert (ratings["24175"].rated, ratings["24175"].mean_rating) == (0, None)
