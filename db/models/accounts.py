"""Who acts: the roster's people and their roles, API tokens, the pages' accounts, sessions and
setup links, and the audit log of what they did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    # Channels in order of preference, comma-separated: "zalo,sms,email".
    channels: Mapped[str] = mapped_column(String(100), default="email")
    language: Mapped[str] = mapped_column(String(5), default="vi")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


class RosterEntry(Base):
    """Who answers for what: a person's role for one commune, or for the province."""

    __tablename__ = "roster"
    __table_args__ = (UniqueConstraint("role", "scope", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    # A commune code, or PROVINCE_SCOPE for the steering office.
    scope: Mapped[str] = mapped_column(String(16), index=True)


PROVINCE_SCOPE = "province"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    # A commune leader's commune or an agency head's agency (`units`).
    commune_code: Mapped[str | None] = mapped_column(String(8))
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    # Unset: the token works until revoked.
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    # An official in charge's token covers the communes this person answers for on the roster.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))


class WebAccount(Base):
    """A person who signs in to the pages: the steering office or one commune's leader.
    The password is stored as an scrypt hash only."""

    __tablename__ = "web_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    # A commune leader's commune or an agency head's agency (`units`).
    commune_code: Mapped[str | None] = mapped_column(String(8))
    # Empty until the person chooses a password through their setup link.
    password_hash: Mapped[str] = mapped_column(String(255))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()
    email: Mapped[str | None] = mapped_column(String(320))
    # The roster person behind the account (an official in charge's communes come from it).
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))


class WebSession(Base):
    """A signed-in browser. The cookie carries a random id (signed); only its hash is stored,
    with the CSRF token every form of the session must send back."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("web_accounts.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class AccountSetup(Base):
    """A single-use link with which a person chooses their password. Only the token's hash is
    stored; a newer link (a reset) supersedes the older ones."""

    __tablename__ = "account_setups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("web_accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200))


class AuditEntry(Base):
    """Who signed in, failed to, changed an account or created a token: append-only, read by
    the steering office in id order."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), default="")
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
