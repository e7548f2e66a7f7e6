"""The procedure catalogue's seed: thirty procedures, every limit with its unit."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.models import Procedure
from db.procedures import load_procedures, read_catalogue


def test_every_limit_has_a_unit_or_is_marked_unverified() -> None:
    seeds = read_catalogue()
    assert len(seeds) == 30
    assert Counter(s.processing_unit for s in seeds) == {
        "working_days": 18,
        "same_day": 6,
        "calendar_days": 3,
        None: 3,
    }
    blank = sorted(s.code for s in seeds if s.processing_unit is None)
    assert blank == ["1.004859", "1.013978", "2.001035"]
    assert all(not s.verified for s in seeds if s.processing_unit is None)
    # Three blank, five with a number whose unit the record leaves uncertain.
    assert sum(not s.verified for s in seeds) == 8
    assert all(s.source.startswith("github:") for s in seeds)
    by_code = {s.code: s for s in seeds}
    assert (by_code["1.010038"].processing_amount, by_code["1.010038"].processing_unit) == (
        5,
        "working_days",
    )
    assert by_code["1.011607"].processing_unit == "calendar_days"
    assert by_code["1.001193"].processing_unit == "same_day"


def test_loading_twice_keeps_one_row_each_and_edits_survive(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(Procedure, "2.001035")
        assert row is not None
        before = (row.processing_amount, row.processing_unit)
    assert load_procedures(engine) == 30
    with Session(engine) as session:
        assert len(list(session.scalars(select(Procedure.code)))) >= 30
        row = session.get(Procedure, "2.001035")
        assert row is not None and (row.processing_amount, row.processing_unit) == before
