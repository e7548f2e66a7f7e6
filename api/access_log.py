"""uvicorn's access log records every request's path, and three kinds of path carry a secret:
a one-click acknowledgement link (`/a/<token>`), an account's setup link (`/setup/<token>`) and
the eSMS delivery-report callback (`/api/v1/callbacks/esms/<secret>`). Whoever reads the log
could acknowledge for a commune, choose a person's password or forge delivery reports, so the
secret part is replaced with "…" before the line is written."""

from __future__ import annotations

import logging
import re

from activities.channels.esms import CALLBACK_PATH

SECRET_IN_PATH = re.compile(rf"({re.escape(CALLBACK_PATH)}|/setup|/a)/[^/?\s]+")
ACCESS_LOGGER = "uvicorn.access"


def redact(path: str) -> str:
    return SECRET_IN_PATH.sub(r"\1/…", path)


class RedactSecretPaths(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger, once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSecretPaths) for f in logger.filters):
        logger.addFilter(RedactSecretPaths())
