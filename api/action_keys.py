"""The `Idempotency-Key` header every action on a workflow takes (an assignment's acknowledge,
report, review and extension; a dossier's steps; a feedback's forward and answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from services.idempotency import KEY_MAX_CHARS

ActionKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=KEY_MAX_CHARS,
        description=(
            "A key of the client's own (a UUID, say; 1 to 200 printable ASCII characters). "
            "Repeat the action with the same key, after an answer that was lost, and get the "
            "first answer again, with the same status and body, and no second effect. The same "
            "key with a different request answers 422. A refused action is not kept: repeating "
            "it asks again."
        ),
    ),
]
