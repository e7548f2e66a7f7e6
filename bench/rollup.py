"""The roll-up of a province-year: 1 million assignment rows written straight into a scratch
SQLite file and a scratch PostgreSQL database (quick: 100,000 on SQLite, the million still on
PostgreSQL, where the goal is set: loading it by COPY takes about 20 s), then the ranking's
roll-up, and the roll-up with the two medians, timed against a bare COUNT … GROUP BY over the
same rows, on the same database.

    python -m bench.rollup [--quick]

Each figure is the median of ROUNDS rounds, after one unmeasured warm-up; in every round the
baseline, the ranking and the roll-up with medians take turns. `run(quick)` returns rows
{"name", "unit": "s", "product", "baseline", "ratio", "product_min", "product_max",
"baseline_min", "baseline_max", "runs"}: the medians, median(product) / median(baseline), and
the lowest and highest round of each side."""

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
ROUNDS = 5
SEED = 20261201
FULL_ROWS = 1_000_000
QUICK_SQLITE_ROWS = 100_000


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
            returns = requests = 0
            if rng.random() < 0.05:
                events.append((d, code, 90, "returned", reported or deadline))
                returns = 1
            if rng.random() < 0.03:
                events.append((d, code, 91, "extension_requested", issued))
                events.append((d, code, 92, "extension_granted", issued))
                requests = 1
            # The row's counts of its timeline, as the write that records each event keeps them.
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
                    returns,
                    requests,
                    requests,
                    issued,
                )
            )
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
            "completed_at, escalation_level, returns, extension_requests, extensions_granted, "
            "issued_at, revision, acknowledged_revision, seq, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, 1, ?)",
            (
                (
                    *r[:5],
                    t(r[5]),
                    t(r[6]),
                    t(r[7]),
                    *(t(x) if x else None for x in r[8:11]),
                    *r[11:15],
                    t(r[15]),
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
            "escalation_level, returns, extension_requests, extensions_granted, issued_at, "
            "revision, acknowledged_revision, seq, updated_at) FROM STDIN",
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


def _rounds(rounds: int, work: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Seconds of each piece of work in each round, the pieces taking turns within a round."""
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(rounds):
        for name, piece in work.items():
            began = time.perf_counter()
            piece()
            times[name].append(time.perf_counter() - began)
    return times


def _row(name: str, product: list[float], baseline: list[float]) -> dict[str, Any]:
    p, b = statistics.median(product), statistics.median(baseline)
    return {
        "name": name,
        "unit": "s",
        "product": round(p, 4),
        "baseline": round(b, 4),
        "ratio": round(p / b, 2) if b else None,
        "product_min": round(min(product), 4),
        "product_max": round(max(product), 4),
        "baseline_min": round(min(baseline), 4),
        "baseline_max": round(max(baseline), 4),
        "runs": len(product),
    }


def _measure(engine: Engine, label: str, rows: int) -> list[dict[str, Any]]:
    period = parse_period(str(YEAR))
    as_of = datetime(YEAR + 1, 1, 1, tzinfo=UTC)
    bare = (
        select(Assignment.commune_code, func.count())
        .where(
            Assignment.original_deadline >= period.start,
            Assignment.original_deadline < period.end,
        )
        .group_by(Assignment.commune_code)
    )
    with Session(engine) as session:
        work: dict[str, Callable[[], object]] = {
            "baseline": lambda: session.execute(bare).all(),
            "ranking roll-up": lambda: rollup(session, period, as_of),
            "roll-up with medians": lambda: rollup(session, period, as_of, with_medians=True),
        }
        # The warm-up round, unmeasured; the roll-up it gives is checked.
        for piece in work.values():
            piece()
        figures = rollup(session, period, as_of, with_medians=True)
        counted = sum(f["received"] for f in figures.values())
        assert len(figures) == 102 and counted > 0.9 * rows, (len(figures), counted)
        assert all(f["median_acknowledgement_seconds"] is not None for f in figures.values())
        times = _rounds(ROUNDS, work)
    return [
        _row(
            f"{what} of {rows:,} assignments, 102 communes, {label}", times[what], times["baseline"]
        )
        for what in ("ranking roll-up", "roll-up with medians")
    ]


def _communes(url: str) -> list[str]:
    engine = make_engine(url)
    load_communes(engine)
    with Session(engine) as session:
        codes = list(session.scalars(select(Commune.code).order_by(Commune.code)))
    engine.dispose()
    return codes


def _say(message: str) -> None:
    sys.stderr.write(f"[rollup] {message}\n")
    sys.stderr.flush()


def run(quick: bool) -> list[dict[str, Any]]:
    sqlite_rows = QUICK_SQLITE_ROWS if quick else FULL_ROWS
    results = []
    with tempfile.TemporaryDirectory(prefix="axis-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        communes = _communes(url)
        data = generate(sqlite_rows, communes)
        began = time.perf_counter()
        _load_sqlite(Path(folder) / "bench.db", data)
        _say(f"SQLite: {sqlite_rows:,} rows loaded in {time.perf_counter() - began:.1f} s")
        engine = make_engine(url)
        try:
            results.extend(_measure(engine, "SQLite", sqlite_rows))
        finally:
            engine.dispose()
    with scratch_postgres() as url:
        upgrade(url)
        _communes(url)
        if sqlite_rows != FULL_ROWS:
            data = generate(FULL_ROWS, communes)
        began = time.perf_counter()
        _load_postgres(url, data)
        _say(f"PostgreSQL: {FULL_ROWS:,} rows loaded in {time.perf_counter() - began:.1f} s")
        engine = make_engine(url)
        try:
            results.extend(_measure(engine, "PostgreSQL", FULL_ROWS))
        finally:
            engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollup")
    parser.add_argument(
        "--quick", action="store_true", help="100,000 rows on SQLite instead of 1,000,000"
    )
    args = parser.parse_args()
    out = io.StringIO()
    for row in run(args.quick):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
