"""Importing the roster from CSV. The session database already holds the demo roster and is
shared with other tests, so each test uses its own addresses and looks at its own rows."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.communes import communes_of_province
from db.engine import make_engine
from db.models import PROVINCE_SCOPE, Person, RosterEntry
from db.roster import COLUMNS, DEMO_ROSTER, RosterError, import_roster, parse_roster

REPO = Path(__file__).parents[2]
KNOWN = {"24133", "24175"}


def write_roster(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(role: str, code: str, email: str, **fields: str) -> dict[str, str]:
    base = {"name": f"Person {email}", "phone": "", "channels": "email", "language": "vi"}
    return {"role": role, "commune_code": code, "email": email, **base, **fields}


def addresses(count: int) -> list[str]:
    tag = uuid.uuid4().hex[:10]
    return [f"roster-{tag}-{i}@example.invalid" for i in range(count)]


# The roster decides who gets every message: changes made here stay in a database of their own.
@pytest.fixture(scope="module")
def database_url(scratch_database_url: str) -> str:
    return scratch_database_url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def totals(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        people = session.scalar(select(func.count()).select_from(Person))
        entries = session.scalar(select(func.count()).select_from(RosterEntry))
    return people or 0, entries or 0


def roles_of(engine: Engine, emails: list[str]) -> set[tuple[str, str, str]]:
    with Session(engine) as session:
        found = session.execute(
            select(Person.email, RosterEntry.role, RosterEntry.scope)
            .join(RosterEntry, RosterEntry.person_id == Person.id)
            .where(Person.email.in_(emails))
        )
        return {(email, role, scope) for email, role, scope in found}


def person(engine: Engine, email: str) -> Person | None:
    with Session(engine) as session:
        return session.scalar(select(Person).where(Person.email == email))


def test_parse_roster_reads_each_role_and_normalises_fields(tmp_path: Path) -> None:
    path = write_roster(
        tmp_path / "r.csv",
        [
            row("steering_office", "", " Office@Example.Invalid ", phone="0900000000"),
            row("commune_leader", "24133", "a@x.invalid", channels=" zalo , sms,email "),
            row("official_in_charge", "24175", "b@x.invalid", language=""),
        ],
    )
    rows = parse_roster(path, KNOWN)
    assert [(r.role, r.scope, r.email) for r in rows] == [
        ("steering_office", PROVINCE_SCOPE, "office@example.invalid"),
        ("commune_leader", "24133", "a@x.invalid"),
        ("official_in_charge", "24175", "b@x.invalid"),
    ]
    assert [r.phone for r in rows] == ["0900000000", None, None]
    assert rows[1].channels == "zalo,sms,email"
    assert rows[2].language == "vi"  # an empty language means Vietnamese


def test_import_creates_people_and_their_roles(engine: Engine, tmp_path: Path) -> None:
    office, leader, official = addresses(3)
    path = write_roster(
        tmp_path / "r.csv",
        [
            row("steering_office", "", office),
            row("commune_leader", "24133", leader, channels="zalo,sms,email", phone="0901"),
            row("official_in_charge", "24133", official),
            row("official_in_charge", "24175", official),
        ],
    )
    people, entries = totals(engine)
    assert import_roster(engine, path) == 4
    assert totals(engine) == (people + 3, entries + 4)
    assert roles_of(engine, [office, leader, official]) == {
        (office, "steering_office", PROVINCE_SCOPE),
        (leader, "commune_leader", "24133"),
        (official, "official_in_charge", "24133"),
        (official, "official_in_charge", "24175"),
    }
    stored = person(engine, leader)
    assert stored is not None
    assert (stored.channels, stored.phone, stored.language, stored.demo) == (
        "zalo,sms,email",
        "0901",
        "vi",
        False,
    )


def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    engine: Engine, tmp_path: Path
) -> None:
    leader, official = addresses(2)
    path = write_roster(
        tmp_path / "r.csv",
        [row("commune_leader", "24175", leader), row("official_in_charge", "24175", official)],
    )
    import_roster(engine, path)
    after_first = totals(engine)
    assert import_roster(engine, path) == 2
    assert totals(engine) == after_first
    assert len(roles_of(engine, [leader, official])) == 2


def test_reimporting_an_address_updates_that_person_in_place(
    engine: Engine, tmp_path: Path
) -> None:
    (email,) = addresses(1)
    import_roster(engine, write_roster(tmp_path / "a.csv", [row("commune_leader", "24133", email)]))
    before = person(engine, email)
    assert before is not None
    people, entries = totals(engine)
    renamed = row("commune_leader", "24133", email.upper(), name="Trần Thị B", language="en")
    import_roster(engine, write_roster(tmp_path / "b.csv", [renamed]))
    after = person(engine, email)
    assert after is not None
    assert (after.id, after.name, after.language) == (before.id, "Trần Thị B", "en")
    assert totals(engine) == (people, entries)


def test_agency_heads_name_their_agency_and_committee_leaders_the_province(
    engine: Engine, tmp_path: Path
) -> None:
    head, leader = addresses(2)
    path = write_roster(
        tmp_path / "r.csv",
        [row("agency_head", "SNV", head), row("committee_leader", "", leader)],
    )
    assert import_roster(engine, path) == 2
    assert roles_of(engine, [head, leader]) == {
        (head, "agency_head", "SNV"),
        (leader, "committee_leader", PROVINCE_SCOPE),
    }


BAD_ROWS = {
    "unknown commune": (row("commune_leader", "99999", "{}"), "unknown commune_code '99999'"),
    "unknown role": (row("chairman", "24133", "{}"), "role 'chairman' is not one of"),
    "office with a commune": (
        row("steering_office", "24133", "{}"),
        "the steering office has no commune_code",
    ),
    "leader without a commune": (row("commune_leader", "", "{}"), "unknown commune_code ''"),
    "committee leader with a unit": (
        row("committee_leader", "SNV", "{}"),
        "a committee leader has no commune_code",
    ),
    "agency head of no agency": (row("agency_head", "SXYZ", "{}"), "unknown commune_code 'SXYZ'"),
    "bad email": (row("commune_leader", "24133", "not-an-address"), "is not an address"),
    "unknown channel": (row("commune_leader", "24133", "{}", channels="email,fax"), "channels"),
    "no channel": (row("commune_leader", "24133", "{}", channels=" , "), "channels"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_refuses_the_whole_file_and_changes_nothing(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    existing, new, bad = addresses(3)
    import_roster(
        engine, write_roster(tmp_path / "a.csv", [row("commune_leader", "24133", existing)])
    )
    bad_row, message = BAD_ROWS[case]
    bad_row = {**bad_row, "email": bad_row["email"].format(bad)}
    path = write_roster(
        tmp_path / "bad.csv",
        [
            row("commune_leader", "24133", existing, name="Renamed"),
            row("official_in_charge", "24175", new),
            bad_row,
        ],
    )
    before = totals(engine)
    with pytest.raises(RosterError, match=message) as refused:
        import_roster(engine, path)
    assert ":4:" in str(refused.value)  # line 4: header, two good rows, then the bad one
    assert totals(engine) == before
    assert person(engine, new) is None
    stored = person(engine, existing)
    assert stored is not None
    assert stored.name == f"Person {existing}"


def test_a_file_without_the_required_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("role,commune_code,name,email\ncommune_leader,24133,A,a@x.invalid\n")
    with pytest.raises(RosterError, match=r"missing columns \['channels', 'language', 'phone'\]"):
        parse_roster(path, KNOWN)


def test_a_row_with_missing_fields_is_refused_as_a_roster_error(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(",".join(COLUMNS) + "\ncommune_leader,24133,Nguyễn Văn A\n", encoding="utf-8")
    with pytest.raises(RosterError):
        parse_roster(path, KNOWN)


def test_the_demo_roster_covers_every_commune_once_per_role_with_unroutable_addresses() -> None:
    with DEMO_ROSTER.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 205
    assert all(r["email"].endswith("@example.invalid") for r in rows)
    assert Counter(r["role"] for r in rows) == {
        "steering_office": 1,
        "commune_leader": 102,
        "official_in_charge": 102,
    }
    codes = [c.code for c in communes_of_province()]
    for role in ("commune_leader", "official_in_charge"):
        assert sorted(r["commune_code"] for r in rows if r["role"] == role) == codes
    officials = {r["email"] for r in rows if r["role"] == "official_in_charge"}
    assert len(officials) == 11
    assert len(parse_roster(DEMO_ROSTER, set(codes))) == 205


def run_cli(database_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AXIS_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "db.roster", "import", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_imports_a_file(engine: Engine, database_url: str, tmp_path: Path) -> None:
    leader, official = addresses(2)
    path = write_roster(
        tmp_path / "r.csv",
        [row("commune_leader", "24133", leader), row("official_in_charge", "24175", official)],
    )
    people, entries = totals(engine)
    done = run_cli(database_url, path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"roster: imported 2 rows from {path}\n"
    assert totals(engine) == (people + 2, entries + 2)


def test_the_command_line_refuses_a_bad_file_with_exit_status_2(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    (email,) = addresses(1)
    path = write_roster(tmp_path / "r.csv", [row("commune_leader", "99999", email)])
    before = totals(engine)
    done = run_cli(database_url, path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"roster: {path}:2: unknown commune_code '99999'\n"
    assert totals(engine) == before
