"""`python -m db.migrate` brings a new database up and can run again at every release."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from config import Settings
from db.migrate import prepare_database
from db.models import Commune, Person, RosterEntry


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            int(session.scalar(select(func.count()).select_from(Commune)) or 0),
            int(session.scalar(select(func.count()).select_from(Person)) or 0),
            int(session.scalar(select(func.count()).select_from(RosterEntry)) or 0),
        )


def test_a_new_database_gets_the_communes_and_the_demo_roster_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'axis.db'}")
    first = prepare_database(settings)
    # 102 leaders, 11 officials and the steering office; 205 roles.
    assert counts(first) == (102, 114, 205)
    again = prepare_database(settings)
    assert counts(again) == (102, 114, 205)
    first.dispose()
    again.dispose()


def test_production_loads_no_demo_people(tmp_path: Path) -> None:
    engine = prepare_database(
        Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'axis.db'}",
            load_demo_roster=False,
        )
    )
    assert counts(engine) == (102, 0, 0)
    engine.dispose()
