"""Stored scorecards: the daily snapshot, a snapshot on request, and recomputing a period
with another rule set.

    python -m services.scoring recompute --period 2026-Q4 --rules v2
    python -m services.scoring snapshot

A snapshot is keyed by (day in Asia/Ho_Chi_Minh, period, commune, rules version): taking it
twice, or in two API processes at once, stores one result. A recompute with another version
adds rows under that version and leaves what the earlier version stored; a recompute with
the same version on the same day replaces its own rows. Every row stored or replaced appends
a `score` change to the change feed in the same transaction."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from config import get_settings
from db.changes import append_changes
from db.engine import make_engine
from db.models import ScoreSnapshot, utcnow
from scoring.engine import Scorecard, explain, ranking
from scoring.periods import Period, month_of, parse_period, vietnam_today
from scoring.rollup import medians
from scoring.rules import RuleSet, load_rules, rules_in_effect

KEY = ["snapshot_date", "period", "commune_code", "rules_version"]


def rules_for(period: Period, version: str | None) -> RuleSet:
    return load_rules(version) if version else rules_in_effect(period.last_day)


def store_scorecards(
    session: Session, cards: list[Scorecard], snapshot_date: str, replace: bool
) -> int:
    """Store one row per commune; returns how many were stored (or replaced)."""
    if not cards:
        return 0
    now = utcnow()
    rows = [
        {
            "snapshot_date": snapshot_date,
            "period": c.period,
            "commune_code": c.commune_code,
            "rules_version": c.rules_version,
            "score": c.score,
            "band": c.band,
            "rank": c.rank,
            "scorecard": c.to_json(),
            "computed_at": now,
        }
        for c in cards
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement: Any = insert(ScoreSnapshot).values(rows)
    if replace:
        statement = statement.on_conflict_do_update(
            index_elements=KEY,
            set_={
                name: statement.excluded[name]
                for name in ("score", "band", "rank", "scorecard", "computed_at")
            },
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=KEY)
    stored = {
        row.commune_code for row in session.execute(statement.returning(ScoreSnapshot.commune_code))
    }
    append_changes(
        session,
        [
            {
                "entity": "score",
                "directive_id": None,
                "commune_code": c.commune_code,
                "kind": "scored",
                "detail": {
                    "period": c.period,
                    "rules_version": c.rules_version,
                    "snapshot_date": snapshot_date,
                    "score": c.score,
                    "band": c.band,
                    "rank": c.rank,
                },
                "at": now,
            }
            for c in cards
            if c.commune_code in stored
        ],
    )
    return len(stored)


def compute(
    session: Session, period: Period, rules: RuleSet, as_of: datetime, explained: bool = True
) -> list[Scorecard]:
    cards = ranking(session, rules, period, as_of)
    if explained:
        cards = [explain(session, rules, period, as_of, c) for c in cards]
        for card in cards:
            card.figures.update(medians(session, period, card.commune_code))
    return cards


def snapshot(session: Session, now: datetime, period: Period | None = None) -> int:
    """Every commune's scorecard for the current month (or `period`) as of today, in the
    caller's transaction; a second call the same day stores nothing."""
    period = period or month_of(now)
    rules = rules_for(period, None)
    cards = compute(session, period, rules, now)
    return store_scorecards(session, cards, vietnam_today(now).isoformat(), replace=False)


def take_snapshot(engine: Engine, now: datetime, period: Period | None = None) -> int:
    with Session(engine) as session, session.begin():
        return snapshot(session, now, period)


def recompute(engine: Engine, period: Period, version: str | None, now: datetime) -> int:
    rules = rules_for(period, version)
    with Session(engine) as session, session.begin():
        cards = compute(session, period, rules, now)
        return store_scorecards(session, cards, vietnam_today(now).isoformat(), replace=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.scoring")
    commands = parser.add_subparsers(dest="command", required=True)
    again = commands.add_parser("recompute", help="score a period again with a rule set")
    again.add_argument("--period", required=True, help="2026-11, 2026-Q4, 2026 or A..B")
    again.add_argument(
        "--rules", default=None, help="a version in scoring/rules (default: in effect)"
    )
    snap = commands.add_parser("snapshot", help="take today's snapshot now")
    snap.add_argument("--period", default=None)
    args = parser.parse_args(argv)
    engine = make_engine(get_settings().resolved_database_url)
    now = datetime.now(UTC)
    try:
        period = parse_period(args.period) if args.period else None
        if args.command == "recompute":
            assert period is not None
            stored = recompute(engine, period, args.rules, now)
            version = rules_for(period, args.rules).version
            sys.stdout.write(f"{period.key}: {stored} scorecards stored with rules {version}\n")
        else:
            stored = take_snapshot(engine, now, period)
            sys.stdout.write(f"snapshot: {stored} scorecards stored\n")
    except ValueError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
