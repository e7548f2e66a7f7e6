"""The one place where the API turns a use case's refusal into a status code."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

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
    NotFound: status.HTTP_404_NOT_FOUND,
    Invalid: status.HTTP_422_UNPROCESSABLE_CONTENT,
    Refused: status.HTTP_409_CONFLICT,
    Conflict: status.HTTP_409_CONFLICT,
    Forbidden: status.HTTP_403_FORBIDDEN,
    EngineUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def status_of(error: ServiceError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return status.HTTP_500_INTERNAL_SERVER_ERROR


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        body: dict[str, object] = {"detail": exc.message}
        if exc.details is not None:
            body["state"] = exc.details
        return JSONResponse(body, status_code=status_of(exc))
