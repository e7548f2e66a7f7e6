"""The bodies the API's errors answer, as the OpenAPI document declares them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    """One part of the request that does not fit the schema."""

    type: str = Field(description="what is wrong, as a word: missing, int_parsing …")
    loc: list[str | int] = Field(description="where: body, query, path or header, then the field")
    msg: str


class ErrorBody(BaseModel):
    """What every error of the API answers (Open311 operations excepted)."""

    detail: str = Field(description="what went wrong, for the person who asked")
    errors: list[FieldError] | None = Field(
        default=None, description="with 422 for a request that does not fit the schema"
    )
    state: Any = Field(
        default=None, description="with a refusal: the object as it stands, when it helps"
    )


class GeoReportError(BaseModel):
    """An Open311 GeoReport v2 error; those operations answer a list of them."""

    code: int
    description: str
