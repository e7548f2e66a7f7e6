"""The roll-up of a province-year: 1 million assignment rows (quick: 100,000) written straight
into a scratch SQLite file and a scratch PostgreSQL database, then the whole ranking's roll-up
timed against a bare COUNT … GROUP BY over the same rows, on the same database.

    python -m bench.rollup [--quick]

`run(quick)` returns rows {"name", "unit": "s", "product", "baseline", "ratio"}."""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import load_communes, upgrade
from db.models import Assignment, Commune
from scoring.periods import parse_period
from scoring.rollup import rollup

POSTGRES_URL = os.environ.get(
    "AXIS_BENCH_POSTGRES_URL",
    os.environ.get("AXIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
YEAR = 2026
ROUNDS = 3
SEED = 20261201


def _sqlite_time(moment: datetime) -> str:
    # How SQLAlchemy stores a DateTime in SQLite: naive UTC text.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _pg_time(moment: datetime) -> str:
    return moment.isoformat()


def generate(
    assignments: int, communes: list[str]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Directives (one per 102 assignments), assignments across the year in the four
    timeliness buckets, and the return/extension events of some of them."""
    rng = random.Random(SEED)
    start = datetime(YEAR, 1, 1, tzinfo=UTC)
    directive_count = -(-assignments // len(communes))
    directives = []
    rows = []
    events = []
    for d in range(1, directive_count + 1):
        issued = start + timedelta(seconds=rng.randrange(360 * 86400))
        deadline = issued + timedelta(days=rng.randrange(3, 20))
        ack_by = issued + timedelta(days=1)
        directives.append((d, issued, deadline, ack_by))
    n = 0
    for d, issued, deadline, ack_by in directives:
        for code in communes:
            if n == assignments:
                break
            n += 1
            roll = rng.random()
            acked = issued + timedelta(hours=rng.randrange(1, 60)) if roll < 0.9 else None
            reported = completed = None
            level = 0
            if roll < 0.6:
                status, timeliness = "completed", "on_time"
                reported = deadline - timedelta(hours=rng.randrange(1, 48))
                completed = reported + timedelta(hours=6)
            elif roll < 0.75:
                status, timeliness = "completed", "late"
                reported = deadline + timedelta(hours=rng.randrange(1, 96))
                completed = reported + timedelta(hours=6)
            elif roll < 0.88:
                status, timeliness, level = "acknowledged", "overdue", rng.randrange(0, 3)
            elif roll < 0.95:
                status, timeliness = "notified", "within_deadline"
            else:
                status, timeliness = "cancelled", "within_deadline"
            rows.append(
                (
                    n,
                    d,
                    code,
                    status,
                    timeliness,
                    deadline,
                    deadline,
                    ack_by,
                    acked,
                    reported,
                    completed,
                    level,
                )
            )
            if rng.random() < 0.05:
                events.append((d, code, 90, "returned", reported or deadline))
            if rng.random() < 0.03:
                events.append((d, code, 91, "extension_requested", issued))
                events.append((d, code, 92, "extension_granted", issued))
    return directives, rows, events


def _load_sqlite(path: Path, data: tuple[list[Any], list[Any], list[Any]]) -> None:
    directives, rows, events = data
    t = _sqlite_time
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    with db:
        db.executemany(
            "INSERT INTO directives (id, title, body, status, revision, content_revision, "
            "issued_at, issued_by, deadline, acknowledge_by, communes, policy, updated_at) "
            "VALUES (?, 'b', 'b', 'active', 1, 1, ?, 'bench', ?, ?, '[]', '{}', ?)",
            [(d, t(i), t(dl), t(a), t(i)) for d, i, dl, a in directives],
        )
        db.executemany(
            "INSERT INTO assignments (id, directive_id, commune_code, status, timeliness, "
            "deadline, original_deadline, acknowledge_by, acknowledged_at, reported_at, "
            "completed_at, escalation_level, revision, acknowledged_revision, seq, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, 1, ?)",
            (
                (
                    *r[:5],
                    t(r[5]),
                    t(r[6]),
                    t(r[7]),
                    *(t(x) if x else None for x in r[8:11]),
                    r[11],
                    t(r[5]),
                )
                for r in rows
            ),
        )
        db.executemany(
            "INSERT INTO assignment_events (directive_id, commune_code, seq, kind, at, actor, "
            "detail) VALUES (?, ?, ?, ?, ?, '', '{}')",
            ((d, c, s, k, t(a)) for d, c, s, k, a in events),
        )
    db.execute("ANALYZE")
    db.close()


def _copy(cursor: psycopg.Cursor[Any], sql: str, rows: Iterator[tuple[Any, ...]]) -> None:
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _load_postgres(url: str, data: tuple[list[Any], list[Any], list[Any]]) -> None:
    directives, rows, events = data
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, dbname=u.database) as c:
        cur = c.cursor()
        _copy(
            cur,
            "COPY directives (id, title, body, status, revision, content_revision, issued_at, "
            "issued_by, deadline, acknowledge_by, communes, policy, updated_at) FROM STDIN",
            (
                (d, "b", "b", "active", 1, 1, i, "bench", dl, a, "[]", "{}", i)
                for d, i, dl, a in directives
            ),
        )
        _copy(
            cur,
            "COPY assignments (id, directive_id, commune_code, status, timeliness, deadline, "
            "original_deadline, acknowledge_by, acknowledged_at, reported_at, completed_at, "
            "escalation_level, revision, acknowledged_revision, seq, updated_at) FROM STDIN",
            ((*r, 1, 1, 1, r[5]) for r in rows),
        )
        _copy(
            cur,
            "COPY assignment_events (directive_id, commune_code, seq, kind, at, actor, detail) "
            "FROM STDIN",
            ((d, cc, s, k, a, "", "{}") for d, cc, s, k, a in events),
        )
        c.commit()
        c.autocommit = True
        c.execute("VACUUM ANALYZE")


@contextmanager
def scratch_postgres() -> Iterator[str]:
    admin = make_url(POSTGRES_URL)
    name = f"axis_bench_{uuid.uuid4().hex[:10]}"
    conninfo = {
        "host": admin.host,
        "port": admin.port or 5432,
        "user": admin.username,
        "dbname": admin.database,
    }
    with psycopg.connect(**conninfo, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**conninfo, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _best_of(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times) if rounds < 3 else statistics.median(times)


def _measure(engine: Engine, label: str, rows: int) -> list[dict[str, Any]]:
    period = parse_period(str(YEAR))
    as_of = datetime(YEAR + 1, 1, 1, tzinfo=UTC)
    with Session(engine) as session:
        figures = rollup(session, period, as_of)  # warm the cache once, and check it
        counted = sum(f["received"] for f in figures.values())
        assert len(figures) == 102 and counted > 0.9 * rows, (len(figures), counted)
        bare = (
            select(Assignment.commune_code, func.count())
            .where(
                Assignment.original_deadline >= period.start,
                Assignment.original_deadline < period.end,
            )
            .group_by(Assignment.commune_code)
        )
        session.execute(bare).all()
        baseline = _best_of(ROUNDS, lambda: session.execute(bare).all())
        ranking = _best_of(ROUNDS, lambda: rollup(session, period, as_of))
        # The two medians sort every value of the year: measured apart, once.
        full = _best_of(1, lambda: rollup(session, period, as_of, with_medians=True))
    return [
        {
            "name": f"{what} of {rows:,} assignments, 102 communes, {label}",
            "unit": "s",
            "product": round(product, 4),
            "baseline": round(baseline, 4),
            "ratio": round(product / baseline, 2) if baseline else None,
        }
        for what, product in (("ranking roll-up", ranking), ("roll-up with medians", full))
    ]


def _communes(url: str) -> list[str]:
    engine = make_engine(url)
    load_communes(engine)
    with Session(engine) as session:
        codes = list(session.scalars(select(Commune.code).order_by(Commune.code)))
    engine.dispose()
    return codes


def run(quick: bool) -> list[dict[str, Any]]:
    size = 100_000 if quick else 1_000_000
    results = []
    with tempfile.TemporaryDirectory(prefix="axis-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        data = generate(size, _communes(url))
        _load_sqlite(Path(folder) / "bench.db", data)
        engine = make_engine(url)
        try:
            results.extend(_measure(engine, "SQLite", size))
        finally:
            engine.dispose()
    with scratch_postgres() as url:
        upgrade(url)
        _communes(url)
        _load_postgres(url, data)
        engine = make_engine(url)
        try:
            results.extend(_measure(engine, "PostgreSQL", size))
        finally:
            engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollup")
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    args = parser.parse_args()
    out = io.StringIO()
    for row in run(args.quick):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
