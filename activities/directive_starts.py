"""Starting a directive a scheduled activity stored (an indicator's reporting period, a period of
a plan's task): its workflow's input from the stored row, and the start on the activity's own
task queue, joining the workflow if an earlier attempt started it."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from db.models import Directive, policy_from_json
from vocabulary.directives import directive_workflow_id
from workflows.directive import DIRECTIVE_TASK_TIMEOUT, DirectiveWorkflow
from workflows.types import IssueDirectiveInput


def fixed_deadline_input(directive: Directive) -> IssueDirectiveInput:
    """As services.directives.issue_input makes it, for a directive whose deadline is a date
    the activity already settled (never working days)."""
    return IssueDirectiveInput(
        directive_id=directive.id,
        communes=list(directive.communes),
        issued_at=directive.issued_at,
        policy=policy_from_json(directive.policy),
        deadline=directive.deadline,
        due_in_working_days=None,
        co_units=list(directive.co_units or []),
    )


async def start_here(client: Client, issue: IssueDirectiveInput) -> None:
    """Start the directive's workflow on this activity's task queue, or find it running."""
    await client.start_workflow(
        DirectiveWorkflow.run,
        issue,
        id=directive_workflow_id(issue.directive_id),
        task_queue=activity.info().task_queue,
        task_timeout=DIRECTIVE_TASK_TIMEOUT,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
