"""Running workflows must keep replaying on new code. tests/histories holds the histories of
every released version side by side (tests/histories/README.md), recorded from every path of
every workflow (`make histories`); CI replays all of them on each change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.histories.archive import HERE, archived, versions
from tests.workflows.unpatched_assignment import AssignmentChangedWithoutPatch
from worker import WORKFLOWS

HISTORIES = archived()
LATEST = HERE / versions()[-1]
# Every path the recorders take. A version recorded before a path existed lacks it; the latest
# version holds them all.
EVERY_PATH = [
    "assignment-acknowledged-amended-recalled",
    "assignment-caught-up-after-outage",
    "assignment-escalated-recalled",
    "assignment-extended-on-time",
    "assignment-extension-outlasts-amendment",
    "assignment-reworked-accepted-late",
    "delivery-dead-lettered",
    "delivery-fallback-sent",
    "delivery-in-digest",
    "delivery-retried-after-quiet-hours",
    "delivery-retried-sent",
    "digest-joined-late",
    "digest-sent",
    "directive-carried-closed",
    "directive-continued-as-new",
    "directive-recalled",
    "dossier-late-apologised-escalated",
    "dossier-refused",
    "dossier-supplemented-transferred",
    "feedback-escalated-answered-rated",
    "feedback-forwarded-answered",
    "obligation-period-closed",
]


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_the_latest_version_holds_every_recorded_path() -> None:
    assert sorted(p.stem for p in LATEST.glob("*.json")) == EVERY_PATH


def test_every_version_holds_only_known_paths() -> None:
    assert {p.stem for p in HISTORIES} <= set(EVERY_PATH)


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_recorded_history_replays_without_nondeterminism(path: Path) -> None:
    result = await Replayer(workflows=WORKFLOWS).replay_workflow(
        load(path), raise_on_replay_failure=False
    )
    assert result.replay_failure is None


# The guarded branch each of these paths takes: its history records the patch marker, so the
# archive keeps a history of the new code along with those recorded before the guard.
GUARDED_BRANCHES = {
    "assignment-caught-up-after-outage": "latest-missed-reminder-only",
    "assignment-extension-outlasts-amendment": "extension-outlasts-amendment",
    # Every assignment started since records it, in its first task; the scheduled writes of
    # `record-assignment-scheduled-again` are its writes too, so that marker is no longer taken.
    "assignment-acknowledged-amended-recalled": "answers-carried-with-next-write",
    "assignment-escalated-recalled": "answers-carried-with-next-write",
    "delivery-retried-after-quiet-hours": "delivery-retries-wait-out-quiet-hours",
    "digest-joined-late": "digest-joined-by-update",
    "obligation-period-closed": "obligation-week-of-scheduled-start",
}


def patches(history: WorkflowHistory) -> set[str]:
    found = set()
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            for payload in event.marker_recorded_event_attributes.details["patch-data"].payloads:
                found.add(json.loads(payload.data)["id"])
    return found


@pytest.mark.parametrize("name", sorted(GUARDED_BRANCHES))
def test_the_latest_histories_take_the_guarded_branches(name: str) -> None:
    assert GUARDED_BRANCHES[name] in patches(load(LATEST / f"{name}.json"))


def test_the_directive_histories_take_the_continue_as_new_branch() -> None:
    first = load(LATEST / "directive-continued-as-new.json").events
    last = load(LATEST / "directive-carried-closed.json").events
    assert first[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    assert last[0].workflow_execution_started_event_attributes.continued_execution_run_id != ""
    assert last[-1].HasField("workflow_execution_completed_event_attributes")


async def test_an_unpatched_change_to_running_code_is_caught() -> None:
    history = load(LATEST / "assignment-escalated-recalled.json")
    result = await Replayer(workflows=[AssignmentChangedWithoutPatch]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
    assert (
        "Nondeterminism" in str(result.replay_failure)
        or "nondetermin" in str(result.replay_failure).lower()
    )
