"""The app a web process serves: the API (api/) and the pages (web/) on one FastAPI app, which
neither of them builds alone.

    uvicorn app:app
"""

from __future__ import annotations

from fastapi import FastAPI

from api.main import create_api
from config import Settings, get_settings
from web.app import install as install_pages


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_api(settings or get_settings())
    install_pages(app)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app:app` builds the app on first use, not at import: tests import this module
    # with settings of their own.
    if name == "app":
        return create_app()
    raise AttributeError(name)
