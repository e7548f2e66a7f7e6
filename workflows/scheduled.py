"""What a workflow started by a Temporal Schedule knows of its schedule: the moment the run was
due. Workflow code: it reads the run's own search attributes, never the clock."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.common import SearchAttributeKey

# Set by a Temporal Schedule on every workflow it starts: the moment the run was due.
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def scheduled_start() -> datetime:
    """When the schedule meant this run to start (a run late after an outage still belongs to
    its own period); a run started by hand has no schedule and starts when it starts."""
    due = workflow.info().typed_search_attributes.get(SCHEDULED_START)
    return due if due is not None else workflow.now()
