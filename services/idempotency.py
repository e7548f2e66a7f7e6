"""Requests repeated with an `Idempotency-Key`: the one fingerprint of a request, the one lookup
of the object an earlier request with the same key created, and the one way an action on a
workflow is taken once per key and answered the same way every time."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models.action_keys import ActionKey
from services.errors import Invalid

Row = TypeVar("Row")
Answer = TypeVar("Answer", bound=BaseModel)

# The longest key taken: a UUID needs 36 characters, a client's own scheme a few more.
KEY_MAX_CHARS = 200


def fingerprint(request: BaseModel) -> str:
    """What a request repeated with the same idempotency key must match."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def different_request(noun: str) -> Invalid:
    return Invalid(
        f"this Idempotency-Key was used for a different request: use a new key for a new {noun}"
    )


async def find_replayed(
    session: AsyncSession,
    model: type[Row],
    idempotency_key: str | None,
    request_fingerprint: str,
    noun: str,
) -> Row | None:
    """The object a request with this key created before, if any. A key used again must come
    with the same request: a different one is refused, not answered with the first's object."""
    if idempotency_key is None:
        return None
    table: Any = model
    existing: Any = await session.scalar(
        select(table).where(table.idempotency_key == idempotency_key)
    )
    if existing is not None and existing.request_fingerprint != request_fingerprint:
        raise different_request(noun)
    found: Row | None = existing
    return found


def check_idempotency_key(key: str) -> None:
    """A key is 1 to 200 printable ASCII characters (it travels in a header and in the
    workflow engine's update id)."""
    if not 0 < len(key) <= KEY_MAX_CHARS or not all(" " <= c <= "~" for c in key):
        raise Invalid(
            f"an Idempotency-Key is 1 to {KEY_MAX_CHARS} printable ASCII characters (a UUID, say)"
        )


def action_fingerprint(action: str, argument: object) -> str:
    """What an action repeated with the same key must match: its name and the message the
    workflow is sent (the actor included: another person's action is another request)."""
    fields = dataclasses.asdict(argument)  # type: ignore[call-overload]
    text = json.dumps({"action": action, "request": fields}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


async def act_once(
    session: AsyncSession,
    workflow_id: str,
    action: str,
    idempotency_key: str | None,
    argument: object,
    answer: type[Answer],
    act: Callable[[str | None], Awaitable[Answer]],
) -> Answer:
    """Take an action on a workflow (`act(update_id)` sends the update) once per key, and answer
    a repeat with the first answer, however the workflow has moved on since.

    Without a key the action is simply taken. With one, the key is first bound to the request
    (the same key with a different request is refused); the update then carries the update id
    `{action}:{key}`, so a repeat that finds no stored answer (the first is still in flight, or
    its process died before storing it) is deduplicated by the workflow engine, which answers
    with the first update's result, also once the workflow has closed. A refusal is not kept:
    repeating a refused action asks again."""
    if idempotency_key is None:
        return await act(None)
    check_idempotency_key(idempotency_key)
    claim = await _claim(
        session, workflow_id, action, idempotency_key, action_fingerprint(action, argument)
    )
    if claim.response is not None:
        return answer.model_validate(claim.response)
    claim_id = claim.id
    # The claim is committed before the workflow is asked: the connection goes back to the pool.
    await session.commit()
    done = await act(f"{action}:{idempotency_key}")
    # Two repeats racing: the first answer stored stands, and both are answered with it.
    await session.execute(
        update(ActionKey)
        .where(ActionKey.id == claim_id, ActionKey.response.is_(None))
        .values(response=done.model_dump(mode="json"))
    )
    await session.commit()
    stored = await session.scalar(select(ActionKey.response).where(ActionKey.id == claim_id))
    return answer.model_validate(stored)


async def _claim(
    session: AsyncSession, workflow_id: str, action: str, key: str, request_fingerprint: str
) -> ActionKey:
    """The key's row for this workflow, written now if it is new; refused if it was bound to
    a different request."""
    found = await _find(session, workflow_id, key)
    if found is None:
        found = ActionKey(
            workflow_id=workflow_id,
            idempotency_key=key,
            action=action,
            request_fingerprint=request_fingerprint,
        )
        session.add(found)
        try:
            await session.flush()
        except IntegrityError:
            # A repeat racing this one wrote it first.
            await session.rollback()
            found = await _find(session, workflow_id, key)
            if found is None:
                raise
    if found.request_fingerprint != request_fingerprint:
        raise different_request("action")
    return found


async def _find(session: AsyncSession, workflow_id: str, key: str) -> ActionKey | None:
    found: ActionKey | None = await session.scalar(
        select(ActionKey)
        .where(ActionKey.workflow_id == workflow_id, ActionKey.idempotency_key == key)
        .execution_options(populate_existing=True)
    )
    return found
