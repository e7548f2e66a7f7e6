"""Whom an assignment goes to: a commune, or one of the province's agencies for a plan's task.
The two reference tables have disjoint codes (an agency's begins with a letter), so a code
names one row of one of them."""

from __future__ import annotations

from sqlalchemy import Subquery, select, union_all
from sqlalchemy.orm import Session

from db.models import PROVINCE_SCOPE, Commune, Person, PlanTask, RosterEntry, Unit
from vocabulary.roles import Role
from vocabulary.unit_names import normalize

Recipient = Commune | Unit


def recipient_names() -> Subquery:
    """(code, name) of every commune and agency: what a list of assignments joins for names."""
    return union_all(select(Commune.code, Commune.name), select(Unit.code, Unit.name)).subquery(
        "recipients"
    )


def recipient(session: Session, code: str) -> Recipient | None:
    return session.get(Commune, code) or session.get(Unit, code)


def recipients(session: Session, codes: list[str]) -> dict[str, Recipient]:
    found: dict[str, Recipient] = {
        c.code: c for c in session.scalars(select(Commune).where(Commune.code.in_(codes)))
    }
    # Most messages go to communes only: the agencies are asked for what is left, if anything.
    rest = [code for code in codes if code not in found]
    if rest:
        found.update((u.code, u) for u in session.scalars(select(Unit).where(Unit.code.in_(rest))))
    return found


def leaders_in_charge(session: Session, directive_id: int) -> list[Person]:
    """The committee leaders on the roster that a plan's task names in charge, for the directive
    its issue started: each whose name the task's "Lãnh đạo phụ trách" cell contains, however
    it is written ("Đ/c Nguyễn Văn A, Phó Chủ tịch UBND tỉnh"). None for a directive that is
    not a task's, or a cell that names nobody on the roster."""
    written = session.scalar(
        select(PlanTask.leader_in_charge).where(PlanTask.directive_id == directive_id)
    )
    if not written:
        return []
    text = f" {normalize(written)} "
    leaders = session.scalars(
        select(Person)
        .join(RosterEntry, RosterEntry.person_id == Person.id)
        .where(
            RosterEntry.role == Role.COMMITTEE_LEADER.value,
            RosterEntry.scope == PROVINCE_SCOPE,
        )
        .order_by(Person.id)
    )
    return [p for p in leaders if f" {normalize(p.name)} " in text]
