"""Bring a read model up to date and load its reference data: the Alembic migrations, the
communes of Dak Lak, the procedure catalogue (db/procedures.csv) and the province's agencies
(db/units.csv), and, when no roster exists yet, the roster named by AXIS_ROSTER_CSV, or else the
demo roster (addresses under example.invalid) unless AXIS_LOAD_DEMO_ROSTER is false. Safe to
run any number of times.

`python -m migrate` runs this and then opens the demo accounts (the accounts are a use case,
above the database)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from config import Settings
from db.communes import communes_of_province
from db.engine import make_engine
from db.models import Commune
from db.procedures import load_procedures
from db.roster import DEMO_ROSTER, import_roster, roster_is_empty
from db.units import load_units
from db.upsert import insert_ignoring_duplicates

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the database at `url` (env.py reads the URL from it)."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = url
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def load_communes(engine: Engine) -> int:
    rows = [c.__dict__ for c in communes_of_province()]
    with Session(engine) as session, session.begin():
        table = Commune.__table__
        session.execute(insert_ignoring_duplicates(table, engine.dialect.name, rows))  # type: ignore[arg-type]
    return len(rows)


def prepare_read_model(settings: Settings) -> Engine:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    engine = make_engine(url)
    load_communes(engine)
    load_procedures(engine)
    load_units(engine)
    if roster_is_empty(engine):
        if settings.roster_csv is not None:
            import_roster(engine, settings.roster_csv)
        elif settings.load_demo_roster:
            import_roster(engine, DEMO_ROSTER, demo=True)
    return engine
