"""Request and response bodies of the province's units: its departments, the other provincial
bodies and the Party bodies that receive tasks. Requests refuse unknown fields, as every request
of API v1 does."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, model_validator

from services.schemas import Request
from vocabulary.unit_names import UnitKind, normalize

# Letters first, so a unit's code is never taken for a commune's five digits.
UNIT_CODE_PATTERN = r"^[A-Z][A-Z0-9]{1,7}$"
UNIT_CODE_RULE = "a unit's code is 2 to 8 capital letters or digits, starting with a letter"
MAX_ABBREVIATIONS = 20
# Plans separate units with ";" and lines, so a written form holding one could never be matched.
_SEPARATORS = re.compile(r"[;\n\r]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def is_unit_code(code: str) -> bool:
    return re.fullmatch(UNIT_CODE_PATTERN, code) is not None


def _written_form(text: str) -> str:
    if _SEPARATORS.search(text):
        raise ValueError(f'"{text}" holds ";" or a line break, which separate units in a plan')
    if not normalize(text):
        raise ValueError(f'"{text}" has no letters to match in a plan')
    return text


def _email(text: str | None) -> str | None:
    if text is None:
        return None
    address = text.strip().lower()
    if not _EMAIL.match(address):
        raise ValueError(f'"{text}" is not an email address')
    return address


WrittenForm = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_written_form)]


def _each_once(forms: list[str]) -> list[str]:
    return list(dict.fromkeys(forms))


Abbreviations = Annotated[
    list[WrittenForm],
    Field(
        max_length=MAX_ABBREVIATIONS,
        description='The other forms plans write the unit in ("SNV", "Sở KH&CN")',
    ),
    AfterValidator(_each_once),
]
HeadEmail = Annotated[
    str | None,
    Field(max_length=320, description="The email of the unit's head on the roster"),
    AfterValidator(_email),
]
Note = Annotated[str, Field(max_length=2000)]


class UnitPublic(BaseModel):
    code: str
    kind: UnitKind
    name: str
    abbreviations: list[str]
    note: str
    head_email: str | None
    active: bool = Field(description="False: kept for the record, no longer matched in plans")
    created_at: datetime
    updated_at: datetime


class UnitsPublic(BaseModel):
    data: list[UnitPublic]
    count: int


class UnitCreate(Request):
    code: str = Field(
        min_length=2,
        max_length=8,
        description=f"{UNIT_CODE_RULE}; it never changes",
        json_schema_extra={"pattern": UNIT_CODE_PATTERN},
    )
    kind: UnitKind
    name: WrittenForm
    abbreviations: Abbreviations = Field(default_factory=list)
    note: Note = ""
    head_email: HeadEmail = None


# Fields a PATCH may leave out but not set to null.
_NOT_NULL = ("kind", "name", "abbreviations", "note", "active")


class UnitUpdate(Request):
    """The fields to change; `head_email: null` removes the head."""

    kind: UnitKind | None = None
    name: WrittenForm | None = None
    abbreviations: Abbreviations | None = None
    note: Note | None = None
    head_email: HeadEmail = None
    active: bool | None = None

    @model_validator(mode="after")
    def _no_null_where_a_value_is_needed(self) -> UnitUpdate:
        nulls = [f for f in _NOT_NULL if f in self.model_fields_set and getattr(self, f) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; leave it out to keep it")
        return self
