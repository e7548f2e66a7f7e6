"""Renders notification templates: one strict, sandboxed Jinja2 environment for every message.

A template lives at `templates/notifications/{language}/{kind}.{channel}.j2`; its first line is
the subject, the rest the body. Rendering happens in activities only."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from vocabulary.calendar import VIETNAM
from vocabulary.text import without_diacritics

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "notifications"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str


def local_time(value: datetime | str, language: str = DEFAULT_LANGUAGE) -> str:
    """What people see is Asia/Ho_Chi_Minh time, written the way each language writes dates."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(VIETNAM)
    if language == "vi":
        return local.strftime("%H:%M ngày %d/%m/%Y")
    return local.strftime("%H:%M, %d %b %Y")


def duration_text(seconds: int | str, language: str = DEFAULT_LANGUAGE) -> str:
    total = abs(int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = (
        ("ngày", "giờ", "phút", "giây")
        if language == "vi"
        else ("day(s)", "hour(s)", "minute(s)", "second(s)")
    )
    parts = [f"{n} {u}" for n, u in zip((days, hours, minutes, secs), units, strict=True) if n]
    return " ".join(parts) or f"0 {units[3]}"


def short_time(value: datetime | str) -> str:
    """17:00 27/02: what an SMS has room for."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(VIETNAM).strftime("%H:%M %d/%m")


def ascii_text(value: str) -> str:
    """Vietnamese without diacritics: a brandname SMS in plain GSM text fits 160 characters
    where a Unicode one fits 70."""
    # NFKC first folds compatibility forms (full-width letters, ligatures) into plain ones.
    bare = without_diacritics(unicodedata.normalize("NFKC", value))
    return "".join(ch for ch in bare if ch.isascii())


class Renderer:
    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(str(root)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["local_time"] = local_time
        self._env.filters["duration_text"] = duration_text
        self._env.filters["short_time"] = short_time
        self._env.filters["ascii_text"] = ascii_text

    def render(
        self, kind: str, channel: str, language: str, context: dict[str, Any]
    ) -> RenderedMessage:
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        subject, body = self._templates(f"{language}/{kind}.{channel}.j2", language, kind)
        values = {"language": language, **context}
        # The subject is rendered on its own and folded to one line: a newline typed into a
        # title can neither end it early nor add a header.
        return RenderedMessage(
            subject=" ".join(subject.render(values).split()),
            body=body.render(values).strip(),
        )

    @lru_cache(maxsize=256)  # noqa: B019 (one renderer per process, templates are fixed)
    def _templates(self, name: str, language: str, kind: str) -> tuple[Template, Template]:
        try:
            source, _, _ = self._env.loader.get_source(self._env, name)  # type: ignore[union-attr]
        except TemplateNotFound:
            # Every kind has an email template; other channels fall back to its text.
            fallback = f"{language}/{kind}.email.j2"
            source, _, _ = self._env.loader.get_source(self._env, fallback)  # type: ignore[union-attr]
        subject, _, body = source.partition("\n")
        return self._env.from_string(subject), self._env.from_string(body)
