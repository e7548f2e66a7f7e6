"""Feedback on the time-skipping server with the product's activities: a Vietnamese text that
names no commune by choice reaches the right commune, is reminded and escalated when nobody
answers, is answered late and rated; a misrouted one is forwarded and answered in time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from db.models import Feedback
from tests.conftest import running_worker
from tests.procedure_factories import case_counts, case_messages, store_feedback
from tests.scenario_dates import DAY, at, close, ordinary_monday_after, server_now
from tests.workflows.helpers import advance_to
from vocabulary.cases import feedback_workflow_id
from workflows.feedback import FeedbackWorkflow
from workflows.procedure_types import (
    AnswerInput,
    FeedbackInput,
    FeedbackState,
    ForwardInput,
    RateInput,
)

EA_KAR, TAN_AN, TAN_LAP = "24373", "24163", "24121"


async def open_feedback(
    env: WorkflowEnvironment, request: FeedbackInput, task_queue: str
) -> WorkflowHandle[FeedbackWorkflow, FeedbackState]:
    return await env.client.start_workflow(
        FeedbackWorkflow.run,
        request,
        id=feedback_workflow_id(request.feedback_id),
        task_queue=task_queue,
    )


def stored(engine: Engine, feedback_id: int) -> Feedback:
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(Feedback, feedback_id)
        assert found is not None
        return found


async def test_unanswered_feedback_reaches_its_commune_and_escalates(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    # A Monday that starts nineteen ordinary days (no holiday, no swapped Saturday), so that the
    # answer is due two weeks later and the ladder falls on ordinary days too.
    monday = ordinary_monday_after(await server_now(env), 19)
    received = at(monday, 9)
    await advance_to(env, received)
    request = store_feedback(
        engine,
        "Đường vào thôn 3 xã Ea Kar có nhiều ổ gà, trời mưa xe máy ngã liên tục",
        received,
    )
    case = feedback_workflow_id(request.feedback_id)
    async with running_worker(env.client, engine, task_queue, executor):
        handle = await open_feedback(env, request, task_queue)
        # Ten working days: the Monday two weeks on. The reminder the Sunday before at 17:00;
        # the ladder on Tuesday (official in charge) and Thursday (steering office).
        due = monday + 14 * DAY
        await advance_to(env, at(due, 9))
        routed = stored(engine, request.feedback_id)
        assert (routed.commune_code, routed.service_code, routed.routing_method) == (
            EA_KAR,
            "roads",
            "classified",
        )
        assert routed.answer_due_at == close(due)
        assert case_counts(engine, case) == {
            "feedback_routed:routed:commune_leader": 1,
            "feedback_reminder:reminder-86400s:commune_leader": 1,
        }
        await advance_to(env, at(due + 4 * DAY, 9))  # Friday
        assert case_counts(engine, case) == {
            "feedback_routed:routed:commune_leader": 1,
            "feedback_reminder:reminder-86400s:commune_leader": 1,
            "feedback_escalation:level-1:official_in_charge": 1,
            "feedback_escalation:level-2:steering_office": 1,
        }
        with pytest.raises(WorkflowUpdateFailedError) as wrong:
            await handle.execute_update(
                FeedbackWorkflow.answer,
                AnswerInput(actor="commune_leader:x", commune_code=TAN_AN, text="Đã sửa"),
            )
        assert wrong.value.cause.message == (  # type: ignore[attr-defined]
            "only the commune the feedback is routed to can answer it"
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(FeedbackWorkflow.rate, RateInput(rating=5))
        answered = await handle.execute_update(
            FeedbackWorkflow.answer,
            AnswerInput(
                actor="commune_leader:Ea Kar", commune_code=EA_KAR, text="Đã vá ổ gà ngày 22/1."
            ),
        )
        assert (answered.status.value, answered.answered_on_time) == ("answered", False)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(FeedbackWorkflow.rate, RateInput(rating=6))
        await handle.execute_update(FeedbackWorkflow.rate, RateInput(rating=4))
        result = await handle.result()
    assert (result.status.value, result.rating, result.escalation_level) == ("closed", 4, 2)
    final = stored(engine, request.feedback_id)
    assert (final.status, final.answer, final.rating, final.answered_on_time) == (
        "closed",
        "Đã vá ổ gà ngày 22/1.",
        4,
        False,
    )
    answer = [n for n in case_messages(engine, case) if n.kind == "feedback_answered"]
    assert [(n.recipient, n.recipient_role) for n in answer] == [
        ("cong.dan@example.invalid", "applicant")
    ]
    assert "Đã vá ổ gà ngày 22/1." in answer[0].body


async def test_misrouted_feedback_is_forwarded_and_answered_in_time(
    time_env: WorkflowEnvironment, engine: Engine, task_queue: str, executor: ThreadPoolExecutor
) -> None:
    env = time_env
    monday = ordinary_monday_after(await server_now(env), 19)
    received = at(monday, 9)
    await advance_to(env, received)
    # "Tân An" in the text, but the place is in Tân Lập.
    request = store_feedback(engine, "mat nuoc 3 ngay nay o phuong tan an", received)
    case = feedback_workflow_id(request.feedback_id)
    async with running_worker(env.client, engine, task_queue, executor):
        handle = await open_feedback(env, request, task_queue)
        await advance_to(env, at(monday + DAY, 9))
        assert stored(engine, request.feedback_id).commune_code == TAN_AN
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                FeedbackWorkflow.forward,
                ForwardInput(actor="x", from_commune=TAN_LAP, to_commune=EA_KAR),
            )
        moved = await handle.execute_update(
            FeedbackWorkflow.forward,
            ForwardInput(actor="commune_leader:Tân An", from_commune=TAN_AN, to_commune=TAN_LAP),
        )
        assert (moved.commune_code, moved.forwarded) == (TAN_LAP, 1)
        answered = await handle.execute_update(
            FeedbackWorkflow.answer,
            AnswerInput(actor="commune_leader:Tân Lập", commune_code=TAN_LAP, text="Đã có nước."),
        )
        assert answered.answered_on_time is True
        # Past the 30 days a rating may take after the answer.
        await advance_to(env, at(monday + 47 * DAY, 9))
        result = await handle.result()
    # Nobody rated within the 30 days: closed without a rating.
    assert (result.status.value, result.rating) == ("closed", None)
    assert case_counts(engine, case) == {
        "feedback_routed:routed:commune_leader": 1,
        "feedback_routed:forward-1:commune_leader": 1,
        "feedback_answered:answered:applicant": 1,
    }
    communes = [n.commune_code for n in case_messages(engine, case) if n.kind == "feedback_routed"]
    assert communes == [TAN_AN, TAN_LAP]
