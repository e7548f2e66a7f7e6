"""Bodies of the accounts and audit-log endpoints. Requests refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.schemas import Text200

RoleName = Literal[
    "steering_office",
    "commune_leader",
    "agency_head",
    "committee_leader",
    "official_in_charge",
    "reader",
]


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(
        min_length=1,
        max_length=64,
        description="3 to 64 characters: lowercase letters, digits, dot, dash or underscore",
    )
    name: Text200
    role: RoleName
    commune_code: str | None = Field(
        default=None, max_length=8, description="Required for a commune_leader, refused otherwise"
    )
    email: str | None = Field(
        default=None, max_length=320, description="Where the setup link is emailed (with SMTP)"
    )


class AccountLink(BaseModel):
    """An account and its new setup link: shown once, only its hash is stored."""

    id: int
    username: str
    role: str
    commune_code: str | None
    setup_url: str = Field(description="Single use, valid until setup_expires_at; shown once")
    setup_expires_at: datetime
    emailed: bool = Field(description="True when the SMTP server accepted the link by email")


class AccountPublic(BaseModel):
    id: int
    username: str
    name: str
    role: str
    commune_code: str | None
    email: str | None
    person_id: int | None
    disabled: bool
    has_password: bool
    demo: bool
    created_at: datetime
    open_sessions: int
    last_signed_in_at: datetime | None = Field(
        description="Start of its newest session still on record (signing out removes it)"
    )


class AccountsPublic(BaseModel):
    data: list[AccountPublic]
    count: int


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    client: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    data: list[AuditEntryPublic]
    count: int
    next_after: int = Field(description="Pass as `after` to read the entries that follow")
