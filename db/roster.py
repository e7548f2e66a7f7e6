"""The roster: who leads each commune, which provincial official is in charge of it, and who
sits in the steering office. Imported from CSV:

    python -m db.roster import roster.csv

Columns: role, commune_code, name, email, phone, channels, language. `role` is commune_leader,
official_in_charge or steering_office; `commune_code` is empty for the steering office;
`channels` lists channels in order of preference ("zalo,sms,email"). Re-importing updates people
by email and adds their roles; nothing is deleted."""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.models import PROVINCE_SCOPE, Commune, Person, RosterEntry, Unit
from db.upsert import insert_ignoring_duplicates

DEMO_ROSTER = Path(__file__).with_name("demo_roster.csv")
ROLES = (
    "commune_leader",
    "official_in_charge",
    "steering_office",
    "agency_head",
    "committee_leader",
)
# Roles of the whole province, as a refusal names them: their rows leave commune_code empty.
PROVINCE_ROLES = {
    "steering_office": "the steering office",
    "committee_leader": "a committee leader",
}
CHANNELS = ("email", "sms", "zalo", "webhook")
COLUMNS = ("role", "commune_code", "name", "email", "phone", "channels", "language")


class RosterError(ValueError):
    pass


@dataclass(frozen=True)
class RosterRow:
    role: str
    scope: str
    name: str
    email: str
    phone: str | None
    channels: str
    language: str


def parse_roster(path: Path, known_communes: set[str]) -> list[RosterRow]:
    """Read and check every row first, so that a bad file changes nothing."""
    rows: list[RosterRow] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise RosterError(f"{path}: missing columns {sorted(missing)}")
        for line, raw in enumerate(reader, start=2):
            if any(raw.get(column) is None for column in COLUMNS):
                raise RosterError(f"{path}:{line}: expected {len(COLUMNS)} fields")
            role = raw["role"].strip()
            code = raw["commune_code"].strip()
            email = raw["email"].strip().lower()
            channels = ",".join(c.strip() for c in raw["channels"].split(",") if c.strip())
            if role not in ROLES:
                raise RosterError(f"{path}:{line}: role {role!r} is not one of {ROLES}")
            if role in PROVINCE_ROLES:
                if code:
                    raise RosterError(f"{path}:{line}: {PROVINCE_ROLES[role]} has no commune_code")
                scope = PROVINCE_SCOPE
            elif code not in known_communes:
                raise RosterError(f"{path}:{line}: unknown commune_code {code!r}")
            else:
                scope = code
            if "@" not in email:
                raise RosterError(f"{path}:{line}: email {email!r} is not an address")
            unknown = set(channels.split(",")) - set(CHANNELS)
            if not channels or unknown:
                raise RosterError(f"{path}:{line}: channels must be among {CHANNELS}")
            rows.append(
                RosterRow(
                    role=role,
                    scope=scope,
                    name=raw["name"].strip(),
                    email=email,
                    phone=raw["phone"].strip() or None,
                    channels=channels,
                    language=(raw["language"].strip() or "vi"),
                )
            )
    return rows


def import_roster(engine: Engine, path: Path, demo: bool = False) -> int:
    """Upsert people by email and add their roster entries; returns the number of rows read."""
    with Session(engine) as session, session.begin():
        # An agency head's row names the agency's code where a leader's names the commune.
        known = set(session.scalars(select(Commune.code))) | set(session.scalars(select(Unit.code)))
        rows = parse_roster(path, known)
        people = {p.email: p for p in session.scalars(select(Person))}
        for row in rows:
            person = people.get(row.email)
            if person is None:
                person = Person(email=row.email)
                session.add(person)
                people[row.email] = person
            person.name, person.phone = row.name, row.phone
            person.channels, person.language, person.demo = row.channels, row.language, demo
        session.flush()
        entries = [
            {"person_id": people[r.email].id, "role": r.role, "scope": r.scope} for r in rows
        ]
        if entries:
            table = RosterEntry.__table__
            session.execute(insert_ignoring_duplicates(table, engine.dialect.name, entries))  # type: ignore[arg-type]
    return len(rows)


def roster_is_empty(engine: Engine) -> bool:
    with Session(engine) as session:
        return not session.scalar(select(func.count()).select_from(RosterEntry))


def main(argv: list[str] | None = None) -> int:
    from config import get_settings
    from db.engine import make_engine

    parser = argparse.ArgumentParser(prog="python -m db.roster", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import people and their roles from a CSV file")
    imp.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    engine = make_engine(get_settings().resolved_database_url)
    try:
        count = import_roster(engine, args.path)
    except (RosterError, OSError, UnicodeDecodeError) as e:
        sys.stderr.write(f"roster: {e}\n")
        return 2
    sys.stdout.write(f"roster: imported {count} rows from {args.path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
