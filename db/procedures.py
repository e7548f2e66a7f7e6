"""The procedure catalogue's seed: `db/procedures.csv`, 30 commune-level procedures compiled from
the National Database on Administrative Procedures, each row with its `source`.

A limit is stored with its unit, never as a bare number: `same day` is a same-day procedure
(15:00 cut-off); a number is in working days unless the record says plain days ("ngày", not
"ngày làm việc"); a blank is no verified limit. A row whose note says UNVERIFIED is loaded with
`verified = false` so every answer about it says so."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.models import Procedure
from db.upsert import insert_ignoring_duplicates
from vocabulary.cases import Level, LimitUnit

PROCEDURES_CSV = Path(__file__).with_name("procedures.csv")
# The records whose limits are plain calendar days, as their notes say.
PLAIN_DAY_MARKERS = ("plain 'ngày'", "plain days")


@dataclass(frozen=True)
class ProcedureSeed:
    code: str
    name: str
    name_en: str
    level: str
    processing_amount: int | None
    processing_unit: str | None
    verified: bool
    processing_note: str
    legal_basis: str
    source: str
    count_receipt_day: bool = False


def limit_of(days: str, note: str) -> tuple[int | None, LimitUnit | None, bool]:
    """(amount, unit, verified) from the CSV's `processing_days` and `processing_note`."""
    days = days.strip()
    unverified = "UNVERIFIED" in note
    if not days:
        return None, None, False
    if days == "same day":
        return None, LimitUnit.SAME_DAY, not unverified
    amount = int(days)
    plain = any(marker in note for marker in PLAIN_DAY_MARKERS)
    return amount, LimitUnit.CALENDAR_DAYS if plain else LimitUnit.WORKING_DAYS, not unverified


def level_of(text: str) -> Level:
    return Level.PROVINCE if text.strip().lower().startswith("cấp tỉnh") else Level.COMMUNE


def read_catalogue(path: Path = PROCEDURES_CSV) -> list[ProcedureSeed]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    seeds = []
    for row in rows:
        amount, unit, verified = limit_of(row["processing_days"], row["processing_note"])
        seeds.append(
            ProcedureSeed(
                code=row["code"].strip(),
                name=row["name_vi"].strip(),
                name_en=row["name_en"].strip(),
                level=level_of(row["level"]).value,
                processing_amount=amount,
                processing_unit=unit.value if unit else None,
                verified=verified,
                processing_note=row["processing_note"].strip(),
                legal_basis=row["legal_basis"].strip(),
                source=row["source"].strip(),
            )
        )
    return seeds


def load_procedures(engine: Engine, path: Path = PROCEDURES_CSV) -> int:
    """Insert the catalogue's procedures that are not there yet: a procedure the steering office
    has edited through the API keeps its edits."""
    rows: list[dict[str, Any]] = [asdict(seed) for seed in read_catalogue(path)]
    with Session(engine) as session, session.begin():
        session.execute(
            insert_ignoring_duplicates(
                Procedure.__table__,  # type: ignore[arg-type]
                engine.dialect.name,
                rows,
            )
        )
    return len(rows)
