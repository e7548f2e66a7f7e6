"""Server-rendered pages: one strict Jinja2 environment with HTML autoescaping, so no text a
user typed (a directive's title) can become markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

PAGES_DIR = Path(__file__).resolve().parent.parent / "templates" / "pages"
_env = Environment(
    loader=FileSystemLoader(str(PAGES_DIR)),
    undefined=StrictUndefined,
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(
        _env.get_template(name).render(**context),
        status_code=status_code,
        # A page about one person's link is nobody else's: no caches, no referrer leak.
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
