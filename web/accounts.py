"""Accounts for the pages. The demo roster comes with demo accounts (never in production,
where AXIS_LOAD_DEMO_ROSTER is false): the office, and a leader for every commune."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.communes import DAK_LAK
from db.models import Commune, WebAccount
from web.passwords import hash_password
from workflows.types import Role

DEMO_OFFICE_USERNAME = "vanphong"
DEMO_OFFICE_PASSWORD = "vanphong-demo"
DEMO_LEADER_PASSWORD = "xa-demo"
DEMO_LEADER_EXAMPLE = "24133"


def leader_username(commune_code: str) -> str:
    return f"xa{commune_code}"


def create_account(
    session: Session,
    username: str,
    password: str,
    role: Role,
    name: str,
    commune_code: str | None = None,
) -> WebAccount:
    if role == Role.COMMUNE_LEADER and commune_code is None:
        raise ValueError("a commune leader's account belongs to one commune")
    account = WebAccount(
        username=username,
        name=name,
        role=role.value,
        commune_code=commune_code if role == Role.COMMUNE_LEADER else None,
        password_hash=hash_password(password),
    )
    session.add(account)
    return account


def ensure_demo_accounts(engine: Engine) -> int:
    """The office and one leader per commune, each created once; returns how many were new.
    The leaders share one password, so their hash is computed once (same salt): demo only."""
    with Session(engine) as session, session.begin():
        existing = set(session.scalars(select(WebAccount.username)))
        communes = list(
            session.execute(
                select(Commune.code, Commune.name)
                .where(Commune.province_code == str(DAK_LAK))
                .order_by(Commune.code)
            )
        )
        added = 0
        if DEMO_OFFICE_USERNAME not in existing:
            session.add(
                WebAccount(
                    username=DEMO_OFFICE_USERNAME,
                    name="Văn phòng Ban Chỉ đạo (demo)",
                    role=Role.STEERING_OFFICE.value,
                    password_hash=hash_password(DEMO_OFFICE_PASSWORD),
                    demo=True,
                )
            )
            added += 1
        leader_hash: str | None = None
        for code, name in communes:
            if leader_username(code) in existing:
                continue
            leader_hash = leader_hash or hash_password(DEMO_LEADER_PASSWORD)
            session.add(
                WebAccount(
                    username=leader_username(code),
                    name=f"Lãnh đạo {name} (demo)",
                    role=Role.COMMUNE_LEADER.value,
                    commune_code=code,
                    password_hash=leader_hash,
                    demo=True,
                )
            )
            added += 1
    return added
