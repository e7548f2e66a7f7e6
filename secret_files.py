"""Secret files under the data directory (link keys, the session secret, the admin token, the
ZNS token state): created whole, readable by their owner only, from the first instant.

Writing a file and chmod-ing it afterwards left two windows: another process could read the
file while it was still empty (and cache no link keys, refusing every link), and anyone could
read it before the chmod. Here the text goes into a draft made with mode 0600 in the same
folder, flushed to disk, and only then given its name, so a reader finds either no file or the
whole file."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

MODE = 0o600


class SecretFileError(RuntimeError):
    """A secret file that exists but cannot be used as it is."""


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The file's text, stripped. When there is no file yet, `make()` gives its text; of
    processes creating it at once the first to name it wins and every one reads the winner's."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = _write_draft(path, make())
    try:
        # link() refuses an existing name, where rename() would replace the winner's file.
        os.link(draft, path)
    except FileExistsError:
        pass
    else:
        _sync_folder(path.parent)
    finally:
        draft.unlink()
    return _read(path)


def write_atomically(path: Path, text: str) -> None:
    """Replace the file's text in one step: a reader sees the old text or the new, never a
    mixture or an empty file, and a crash midway leaves the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = _write_draft(path, text)
    try:
        os.replace(draft, path)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _read(path: Path) -> str:
    text = path.read_text().strip()
    if not text:
        # Only an older release, writing the file in place, could leave it empty.
        raise SecretFileError(f"{path} is empty; delete it and a new one is made at start")
    return text


def _write_draft(path: Path, text: str) -> Path:
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, MODE)
    try:
        with os.fdopen(descriptor, "w") as out:
            # The umask can only take bits away from MODE; set it exactly all the same.
            os.fchmod(out.fileno(), MODE)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    return draft


def _sync_folder(folder: Path) -> None:
    """Make the new name itself durable, not only the file's contents."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
