"""Builders for what several tests need: a stored directive and its workflow input, made the
way the API makes them (`services.directives.issue_input`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.models import Directive, policy_to_json
from services.directives import issue_input
from vocabulary.directives import DirectivePolicy, DirectiveStatus
from workflows.types import IssueDirectiveInput


def store_directive(
    engine: Engine,
    communes: list[str],
    issued_at: datetime,
    policy: DirectivePolicy,
    deadline: datetime | None = None,
    due_in_working_days: int | None = None,
    title: str = "Báo cáo chuyển đổi số quý IV",
) -> IssueDirectiveInput:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        directive = Directive(
            title=title,
            body="Mỗi xã, phường gửi báo cáo kết quả chuyển đổi số kèm minh chứng.",
            status=DirectiveStatus.ISSUING.value,
            revision=1,
            issued_at=issued_at,
            issued_by="steering_office:test",
            deadline=deadline,
            due_in_working_days=due_in_working_days,
            communes=sorted(communes),
            policy=policy_to_json(policy),
            updated_at=issued_at,
        )
        session.add(directive)
    return issue_input(directive)
