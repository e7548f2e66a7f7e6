"""The audit log: one row per sign-in, failed sign-in, account change and token creation.
Callers add the row to the session of the change it records, so both commit together."""

from __future__ import annotations

from typing import Any

from db.models import AuditEntry


def audit_entry(
    actor: str,
    action: str,
    subject: str = "",
    *,
    client: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """A row to `session.add`: `actor` is who acted (`account:vanphong`, `token:7`, or
    `anonymous`), `action` a dotted verb (`signin.failed`, `account.disabled`), `subject` what
    it acted on. Never put a password, token or link in `detail`."""
    return AuditEntry(
        actor=actor, action=action, subject=subject, client=client, detail=detail or {}
    )
