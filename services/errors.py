"""What a use case answers when it cannot do what was asked. Each error carries a message for the
person who asked; `api/errors.py` maps them to status codes and `web/` to pages, each in one
place. Services raise nothing else on purpose: anything else is a defect."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A use case's refusal, with a message for the person who asked."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        # Anything the caller may show besides the message (the current state of a refused
        # object, the fields that were wrong); plain JSON-able values.
        self.details = details


class NotFound(ServiceError):
    """The object does not exist, or the asker may not see it (the same answer on purpose: no
    commune learns whether another commune's object exists)."""


class Invalid(ServiceError):
    """The request itself is wrong (an unknown commune, a deadline in the past, a reused
    idempotency key) and nothing was changed."""


class Refused(ServiceError):
    """The object is in a state that does not allow the action (a report on a completed
    assignment, an extension granted twice); the reason says which."""


class Conflict(ServiceError):
    """The action collides with another one (a name already taken, an object still being
    opened); repeating it later or differently may succeed."""


class Forbidden(ServiceError):
    """The asker's role does not allow the action."""


class EngineUnavailable(ServiceError):
    """The workflow engine (or the database behind it) did not answer; nothing is lost and the
    same request may be repeated."""
