"""Backups of the read model (and, on the embedded defaults, of the dev server's database), and
putting one back.

    python -m db.backup create [--dir DIR]        (make backup [DIR=...])
    python -m db.backup restore FOLDER [--with-temporal]   (make restore FILE=...)

A backup is a folder named by the UTC time it was taken, under AXIS_DATA_DIR/backups/:
`axis.dump` (PostgreSQL: `pg_dump --format=custom`, one consistent snapshot) or `axis.db`
(SQLite: the online backup API, consistent while the product writes), `temporal.db` when the
embedded dev server's database is there, and `manifest.json` saying when it was taken.

A restore puts the read model back (PostgreSQL: `pg_restore --clean --if-exists` in one
transaction; SQLite: the backup API into the live file, with the product stopped) and appends a
`backup.restored` row to the audit log: the read model is then behind the workflows until the
catch-up (services/catchup.py, `make reconcile`, also run by the API at start) has written what
they did since the backup was taken."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from config import Settings, get_settings
from db.engine import make_engine, sync_url
from db.models import AuditEntry

log = logging.getLogger("axis.backup")
MANIFEST = "manifest.json"
SQLITE_FILE = "axis.db"
POSTGRES_FILE = "axis.dump"
TEMPORAL_FILE = "temporal.db"
# Pages copied per step of SQLite's online backup: writers get the lock between steps.
SQLITE_PAGES_PER_STEP = 1024
# Audit-log actions: a restore marks the read model behind, a finished catch-up up to date.
RESTORED = "backup.restored"
CAUGHT_UP = "catchup.done"


@dataclass
class Backup:
    folder: Path
    taken_at: datetime
    read_model: str
    temporal: str | None


def create(settings: Settings, folder: Path | None = None) -> Backup:
    """Write one backup and return where it is."""
    taken_at = datetime.now(UTC)
    root = folder or settings.data_dir / "backups"
    target = root / taken_at.strftime("%Y%m%dT%H%M%S.%fZ")
    target.mkdir(parents=True)
    url = make_url(sync_url(settings.resolved_database_url))
    if url.get_backend_name() == "sqlite":
        read_model = SQLITE_FILE
        _sqlite_copy(_sqlite_path(url), target / read_model)
    else:
        read_model = POSTGRES_FILE
        _pg("pg_dump", url, "--format=custom", "--file", str(target / read_model))
    temporal: str | None = None
    embedded = settings.data_dir / TEMPORAL_FILE
    if settings.temporal_address is None and embedded.exists():
        # The dev server keeps its workflows in this file: copied the same online way.
        temporal = TEMPORAL_FILE
        _sqlite_copy(embedded, target / temporal)
    backup = Backup(target, taken_at, read_model, temporal)
    (target / MANIFEST).write_text(
        json.dumps(
            {"taken_at": taken_at.isoformat(), "read_model": read_model, "temporal": temporal},
            indent=2,
        )
    )
    return backup


def load(path: Path) -> Backup:
    """A backup from its folder (or its manifest)."""
    folder = path.parent if path.name == MANIFEST else path
    manifest = json.loads((folder / MANIFEST).read_text())
    return Backup(
        folder,
        datetime.fromisoformat(manifest["taken_at"]),
        manifest["read_model"],
        manifest.get("temporal"),
    )


def restore(settings: Settings, backup: Backup, with_temporal: bool = False) -> None:
    """Put the backup's read model back and mark it behind the workflows. The product must be
    stopped on SQLite (the live file is overwritten page by page); on PostgreSQL the restore is
    one transaction, but the API and workers should be stopped too: they would write into
    tables being replaced."""
    url = make_url(sync_url(settings.resolved_database_url))
    source = backup.folder / backup.read_model
    if url.get_backend_name() == "sqlite":
        if backup.read_model != SQLITE_FILE:
            raise SystemExit(f"{source} is a PostgreSQL dump; the database is SQLite")
        _sqlite_copy(source, _sqlite_path(url))
    else:
        if backup.read_model != POSTGRES_FILE:
            raise SystemExit(f"{source} is a SQLite file; the database is PostgreSQL")
        _pg(
            "pg_restore", url, "--clean", "--if-exists", "--no-owner", "--single-transaction",
            str(source),
        )  # fmt: skip
    if with_temporal:
        if backup.temporal is None:
            raise SystemExit("this backup holds no dev server database")
        _sqlite_copy(backup.folder / backup.temporal, settings.data_dir / TEMPORAL_FILE)
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session, session.begin():
            session.add(restore_marker(datetime.now(UTC), str(backup.folder), backup.taken_at))
    finally:
        engine.dispose()


def restore_marker(when: datetime, source: str, taken_at: datetime | None) -> AuditEntry:
    """The audit row a restore writes: the read model is behind until a catch-up follows."""
    return AuditEntry(
        actor="operator",
        action=RESTORED,
        subject=source[:200],
        at=when,
        detail={"taken_at": taken_at.isoformat() if taken_at else None},
    )


def pending_restore(engine: Engine) -> datetime | None:
    """When the backup restored last was taken, if no catch-up has finished since; None when
    the read model is not behind (or the restore did not say when its backup was taken: then
    the epoch, so that visibility lists everything closed)."""
    with Session(engine) as session:
        restored = session.execute(
            select(AuditEntry.id, AuditEntry.detail)
            .where(AuditEntry.action == RESTORED)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).first()
        if restored is None:
            return None
        done = session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.action == CAUGHT_UP))
    if done is not None and done > restored.id:
        return None
    taken_at = (restored.detail or {}).get("taken_at")
    return datetime.fromisoformat(taken_at) if taken_at else datetime.fromtimestamp(0, UTC)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise SystemExit("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _sqlite_copy(source: Path, destination: Path) -> None:
    """SQLite's online backup: a consistent copy while others read and write the source."""
    if not source.exists():
        raise SystemExit(f"{source} does not exist")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
        src.backup(dst, pages=SQLITE_PAGES_PER_STEP)
    src.close()
    dst.close()


def _pg(tool: str, url: URL, *args: str) -> None:
    """Run pg_dump or pg_restore on the database of `url`; the password goes by environment,
    never on the command line (where `ps` shows it)."""
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    command = [
        tool,
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 5432}",
        f"--dbname={url.database}",
    ]
    if url.username:
        command.append(f"--username={url.username}")
    completed = subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise SystemExit(f"{tool} failed ({completed.returncode}): {completed.stderr.strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("create", help="write a backup")
    made.add_argument("--dir", type=Path, help="where (default: AXIS_DATA_DIR/backups)")
    put = commands.add_parser("restore", help="put a backup back (the product stopped)")
    put.add_argument("backup", type=Path, help="the backup's folder or its manifest.json")
    put.add_argument(
        "--with-temporal",
        action="store_true",
        help="also put back the embedded dev server's database (the whole data directory "
        "was lost: then no catch-up is needed, both are as they were)",
    )
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    if options.command == "create":
        backup = create(settings, options.dir)
        log.info("backup written to %s", backup.folder)
    else:
        backup = load(options.backup)
        restore(settings, backup, options.with_temporal)
        log.info(
            "restored %s (taken %s); run `make reconcile` (or start the API) to catch up",
            backup.folder,
            backup.taken_at.isoformat(),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
