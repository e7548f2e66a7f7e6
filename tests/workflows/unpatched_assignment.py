"""A deliberately wrong change to the shipped assignment workflow: one more activity before its
loop, without `workflow.patched`. Replaying a recorded history on it must fail. (A module of its
own: the workflow sandbox re-imports the module that defines a workflow.)"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from vocabulary.directives import AssignmentState
    from workflows import activity_names
    from workflows.assignment import AssignmentWorkflow
    from workflows.types import AssignmentInput


@workflow.defn(name="Assignment")
class AssignmentChangedWithoutPatch(AssignmentWorkflow):
    @workflow.run
    async def run(self, request: AssignmentInput) -> AssignmentState:
        await workflow.execute_activity(
            activity_names.SET_DIRECTIVE_STATUS,
            None,
            start_to_close_timeout=timedelta(seconds=5),
        )
        return await super().run(request)
