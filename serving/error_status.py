"""The status code of a use case's refusal, the same whether the API answers it or a page shows
it: one table for `api/errors.py` and `web/errors.py`."""

from __future__ import annotations

from http import HTTPStatus

from services.errors import (
    Conflict,
    EngineUnavailable,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    ServiceError,
)

STATUS_OF: dict[type[ServiceError], int] = {
    NotFound: HTTPStatus.NOT_FOUND,
    Invalid: HTTPStatus.UNPROCESSABLE_ENTITY,
    Refused: HTTPStatus.CONFLICT,
    Conflict: HTTPStatus.CONFLICT,
    Forbidden: HTTPStatus.FORBIDDEN,
    EngineUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def status_of(error: ServiceError) -> int:
    """The status of the nearest kind of refusal this error is; 500 for one the table does not
    know, which is a defect to fix here."""
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return int(STATUS_OF[kind])
    return int(HTTPStatus.INTERNAL_SERVER_ERROR)
