"""The province's agencies' seed: `db/units.csv`, its departments, the other provincial bodies
that receive tasks and the Party bodies, each with a short code, its kind, its name and the
abbreviations plans write for it ("; " between them), reconstructed from public sources."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.models import Unit
from db.upsert import insert_ignoring_duplicates

UNITS_CSV = Path(__file__).with_name("units.csv")
ABBREVIATION_SEPARATOR = "; "


@dataclass(frozen=True)
class UnitSeed:
    code: str
    kind: str
    name: str
    abbreviations: tuple[str, ...]
    note: str


def split_abbreviations(text: str) -> tuple[str, ...]:
    """The forms of a stored or listed `abbreviations` text, in order, blanks left out."""
    return tuple(form.strip() for form in text.split(";") if form.strip())


def join_abbreviations(forms: tuple[str, ...] | list[str]) -> str:
    return ABBREVIATION_SEPARATOR.join(forms)


def read_units(path: Path = UNITS_CSV) -> list[UnitSeed]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            UnitSeed(
                code=row["code"].strip(),
                kind=row["kind"].strip(),
                name=row["name"].strip(),
                abbreviations=split_abbreviations(row["abbreviations"]),
                note=row["note"].strip(),
            )
            for row in csv.DictReader(handle)
        ]


def load_units(engine: Engine, path: Path = UNITS_CSV) -> int:
    """Insert the listed units that are not there yet and return how many were inserted: a
    unit the steering office has edited through the API keeps its edits, and a second call
    inserts nothing."""
    now = datetime.now(UTC)
    rows = [
        {
            "code": seed.code,
            "kind": seed.kind,
            "name": seed.name,
            "abbreviations": join_abbreviations(seed.abbreviations),
            "note": seed.note,
            "head_email": None,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for seed in read_units(path)
    ]
    statement = insert_ignoring_duplicates(
        Unit.__table__,  # type: ignore[arg-type]
        engine.dialect.name,
        rows,
    )
    # The codes inserted, counted from RETURNING: the drivers' row counts of an insert that
    # skipped conflicts differ (psycopg answers -1).
    with Session(engine) as session, session.begin():
        inserted = session.scalars(statement.returning(Unit.code)).all()
    return len(inserted)
