"""Prepare the database for a run, once per release and before the API and the worker start:

    python -m migrate

The read model's migrations and reference data (`db.migrate.prepare_read_model`), then, with
the demo roster (no AXIS_ROSTER_CSV, AXIS_LOAD_DEMO_ROSTER not false), the demo accounts: the
office and a leader for every commune. Safe to run any number of times."""

from __future__ import annotations

import sys

from sqlalchemy import Engine

from config import Settings, get_settings
from db.migrate import prepare_read_model
from services.accounts import ensure_demo_accounts


def prepare_database(settings: Settings) -> Engine:
    engine = prepare_read_model(settings)
    if settings.roster_csv is None and settings.load_demo_roster:
        ensure_demo_accounts(engine)
    return engine


def main() -> int:
    settings = get_settings()
    engine = prepare_database(settings)
    engine.dispose()
    sys.stdout.write("database ready\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
