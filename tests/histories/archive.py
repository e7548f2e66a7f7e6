"""The archive of recorded histories: one folder per released version of the workflow code,
side by side, each written once (tests/histories/README.md). The recorders write a new folder;
the replay test replays every folder."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import WorkflowHistory

HERE = Path(__file__).parent


def archived() -> list[Path]:
    """Every recorded history of every version, oldest version first."""
    return sorted(HERE.glob("*/*.json"))


def versions() -> list[str]:
    return sorted(p.name for p in HERE.iterdir() if p.is_dir() and any(p.glob("*.json")))


def version_folder(version: str | None) -> Path:
    """The folder of `version`: by default the day of recording (UTC), `YYYY-MM-DD`."""
    name = version or datetime.now(UTC).date().isoformat()
    if not name or "/" in name or name.startswith("."):
        raise SystemExit(f"not a version folder name: {name!r}")
    return HERE / name


def claim(folder: Path, names: Iterable[str]) -> Path:
    """Refuse, before anything is recorded, to write a history that the folder holds already:
    a released version's histories are never overwritten."""
    taken = sorted(n for n in names if (folder / f"{n}.json").exists())
    if taken:
        raise SystemExit(
            f"{folder} holds {', '.join(taken)} already: record a new version "
            "(make histories HISTORIES_VERSION=<name>)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write(folder: Path, name: str, history: WorkflowHistory) -> Path:
    path = folder / f"{name}.json"
    with path.open("x") as out:  # fails rather than overwrite
        out.write(history.to_json())
    return path
