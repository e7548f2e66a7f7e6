"""The one place the pages turn a use case's refusal into what the person sees: the refusal's
own message on an error page, with the status code the API gives the same refusal."""

from __future__ import annotations

from services.errors import (
    Conflict,
    EngineUnavailable,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    ServiceError,
)
from web.sessions import PageRefused

STATUS_OF: dict[type[ServiceError], int] = {
    NotFound: 404,
    Invalid: 422,
    Refused: 409,
    Conflict: 409,
    Forbidden: 403,
    EngineUnavailable: 503,
}


def page_status(error: ServiceError) -> int:
    """The status code of the page that shows this refusal."""
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 500


def refusal(error: ServiceError) -> PageRefused:
    """The error page for a refusal. Another commune's object is refused as a missing one by
    the services, and said the same way here."""
    return PageRefused(page_status(error), error.message)
