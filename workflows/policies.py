"""What every workflow of the product shares: how activities retry, and how a refusal is typed."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from vocabulary.refusals import INVALID_TRANSITION

# The read model and the roster live in the database: keep retrying through an outage rather
# than lose a state change or a reminder. Business refusals are non-retryable errors instead.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)


def refusal(message: str, kind: str = INVALID_TRANSITION, *details: object) -> ApplicationError:
    """A business refusal; `details` travel to the caller (the state a repeat click sees)."""
    return ApplicationError(message, *details, type=kind, non_retryable=True)
