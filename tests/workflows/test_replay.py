"""Running workflows must keep replaying on new code. The histories under tests/histories were
recorded from every path of a directive (`make histories`); CI replays them on each change."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.workflows.unpatched_assignment import AssignmentChangedWithoutPatch
from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    workflow_id = path.stem
    return WorkflowHistory.from_json(workflow_id, path.read_text())


def test_every_recorded_path_is_present() -> None:
    assert [p.stem for p in HISTORIES] == [
        "assignment-acknowledged-amended-recalled",
        "assignment-escalated-recalled",
        "assignment-extended-on-time",
        "assignment-reworked-accepted-late",
        "delivery-dead-lettered",
        "delivery-fallback-sent",
        "delivery-in-digest",
        "delivery-retried-sent",
        "digest-sent",
        "directive-recalled",
        "dossier-late-apologised-escalated",
        "dossier-refused",
        "dossier-supplemented-transferred",
        "feedback-escalated-answered-rated",
        "feedback-forwarded-answered",
        "obligation-period-closed",
    ]


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays_without_nondeterminism(path: Path) -> None:
    result = await Replayer(workflows=WORKFLOWS).replay_workflow(
        load(path), raise_on_replay_failure=False
    )
    assert result.replay_failure is None


async def test_an_unpatched_change_to_running_code_is_caught() -> None:
    history = load(next(p for p in HISTORIES if p.stem == "assignment-escalated-recalled"))
    result = await Replayer(workflows=[AssignmentChangedWithoutPatch]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
    assert (
        "Nondeterminism" in str(result.replay_failure)
        or "nondetermin" in str(result.replay_failure).lower()
    )
