"""The one place the pages turn a use case's refusal into what the person sees: the refusal's
own message on an error page, with the status code the API gives the same refusal."""

from __future__ import annotations

from services.errors import ServiceError
from serving.error_status import status_of
from web.sessions import PageRefused


def refusal(error: ServiceError) -> PageRefused:
    """The error page for a refusal. Another commune's object is refused as a missing one by
    the services, and said the same way here."""
    return PageRefused(status_of(error), error.message)
