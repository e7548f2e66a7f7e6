"""Input the database cannot hold answers 422, not 500: an id or offset beyond a 64-bit integer
(SQLite raises OverflowError binding it, PostgreSQL a DataError), whatever endpoint it reached."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError


def add_input_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "a number in the request is out of range"}, status_code=422)
