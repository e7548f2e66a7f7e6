"""The kinds of a business refusal, as a workflow types it and a caller reads it back."""

from __future__ import annotations

# Refusal types the API maps: an invalid transition is 409; a repeated acknowledgement is a
# harmless 200.
INVALID_TRANSITION = "InvalidTransition"


ALREADY_ACKNOWLEDGED = "AlreadyAcknowledged"
