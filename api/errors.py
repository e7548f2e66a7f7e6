"""The one place where the API turns what went wrong into a status code and a body, and the body
the OpenAPI document declares for it (`api/error_schemas.py`; `api/openapi_errors.py` says which
operation answers which).

Every error answers `{"detail": "…"}`, a sentence for the person who asked; a request that does
not fit the schema adds `errors` (each field that is wrong), and a refusal of a use case may add
`state` (the object as it stands). Open311 operations answer their own GeoReport shape, written
by their routes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.openapi_errors import document
from services.errors import (
    ServiceError,
)
from serving.error_status import status_of

# A database that cannot be reached is the service being unavailable, not a server error: the
# caller may repeat the request after this long.
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "the database is not reachable; try again shortly"
OUT_OF_RANGE = "a number in the request is out of range"


def _field_errors(exc: RequestValidationError) -> tuple[str, list[Any]]:
    # The input and the context are left out: the input may be large or secret, and the message
    # says what the context would.
    errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
    messages = [
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}".lstrip(": ")
        for e in errors
    ]
    return "; ".join(messages), errors


def install(app: FastAPI) -> None:
    """Every error handler of the API, and the errors declared in its OpenAPI document."""

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        body: dict[str, object] = {"detail": exc.message}
        if exc.details is not None:
            body["state"] = exc.details
        return JSONResponse(body, status_code=status_of(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _field_errors(exc)
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    # Input the database cannot hold answers 422, not 500: an id or offset beyond a 64-bit
    # integer (SQLite raises OverflowError binding it, PostgreSQL a DataError), whatever
    # endpoint it reached.
    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": OUT_OF_RANGE}, status_code=422)

    # A database that cannot be reached answers 503 with a message the caller can act on (try
    # again), from whichever route touched it.
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeoutError)
    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": DATABASE_UNAVAILABLE},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    document(app)
