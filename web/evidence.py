"""Evidence files a commune uploads with its report: at most AXIS_MAX_UPLOAD_FILES files of
AXIS_MAX_UPLOAD_BYTES each, of the kinds an office works with (PDF, images, Word, Excel,
OpenDocument), recognised by their content rather than their name; stored under the data
directory by a random name and served back only to the office and the same commune."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import UploadFile

from config import Settings

EVIDENCE_DIR = "evidence"
CHUNK = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
# extension → (content type, the bytes the file starts with)
KINDS: dict[str, tuple[str, bytes]] = {
    "pdf": ("application/pdf", b"%PDF-"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ZIP_MAGIC,
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP_MAGIC),
    "odt": ("application/vnd.oasis.opendocument.text", ZIP_MAGIC),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ZIP_MAGIC),
}


class EvidenceRefused(ValueError):
    pass


@dataclass
class StoredFile:
    stored_name: str
    original_name: str
    content_type: str
    size: int


def evidence_dir(settings: Settings) -> Path:
    folder = settings.data_dir / EVIDENCE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _kind(filename: str) -> tuple[str, bytes]:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in KINDS:
        allowed = ", ".join(sorted(KINDS))
        raise EvidenceRefused(f"{filename}: only these kinds of file are accepted: {allowed}")
    return KINDS[extension]


async def store(settings: Settings, uploads: list[UploadFile]) -> list[StoredFile]:
    """Check and write every file, or none: a refused file removes those already written."""
    files = [u for u in uploads if u.filename]
    if len(files) > settings.max_upload_files:
        raise EvidenceRefused(f"at most {settings.max_upload_files} files per report")
    stored: list[StoredFile] = []
    folder = evidence_dir(settings)
    try:
        for upload in files:
            name = Path(upload.filename or "").name[:255]
            content_type, magic = _kind(name)
            stored_name = secrets.token_hex(16)
            size = 0
            with (folder / stored_name).open("xb") as out:
                # Written before the checks end so that a refused file is removed with the rest.
                stored.append(StoredFile(stored_name, name, content_type, 0))
                first = True
                while chunk := await upload.read(CHUNK):
                    if first and not chunk.startswith(magic):
                        raise EvidenceRefused(
                            f"{name}: the content is not a .{name.rsplit('.')[-1]}"
                        )
                    first = False
                    size += len(chunk)
                    if size > settings.max_upload_bytes:
                        raise EvidenceRefused(
                            f"{name}: larger than {settings.max_upload_bytes // (1024 * 1024)} MiB"
                        )
                    out.write(chunk)
            if size == 0:
                raise EvidenceRefused(f"{name}: the file is empty")
            stored[-1].size = size
    except BaseException:
        discard(settings, [s.stored_name for s in stored])
        raise
    return stored


def discard(settings: Settings, stored_names: list[str]) -> None:
    folder = evidence_dir(settings)
    for stored_name in stored_names:
        (folder / stored_name).unlink(missing_ok=True)


def path_of(settings: Settings, stored_name: str) -> Path | None:
    if len(stored_name) != 32 or not all(c in "0123456789abcdef" for c in stored_name):
        return None
    path = evidence_dir(settings) / stored_name
    return path if path.is_file() else None
