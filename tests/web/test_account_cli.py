"""The operator's commands, on SQLite and PostgreSQL: `python -m accounts_cli create` opens
the first steering-office account and prints its setup link once; `invite` (what
`make roster INVITE=1` runs) opens an account for every real roster person who has none, and a
second run opens none; links are printed only with --show-links, emailed when SMTP is set."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from accounts_cli import main
from config import Settings
from db.engine import make_engine
from db.models import AccountSetup, AuditEntry, Person, WebAccount
from db.roster import import_roster
from services.accounts import COMMAND_LINE_ACTOR, NewAccount, open_account
from services.principals import hash_token as token_digest
from tests.conftest import PUBLIC_URL
from tests.gateways import smtp_server
from vocabulary.roles import Role

LINK = re.compile(re.escape(PUBLIC_URL) + r"/setup/([A-Za-z0-9_-]{43})")
ROSTER = """role,commune_code,name,email,phone,channels,language
steering_office,,Nguyễn Văn Phòng,Vp.Nguyen@daklak.example,,email,vi
commune_leader,24133,Lê Thị Xã,le.thi.xa@daklak.example,,email,vi
commune_leader,24121,Lê Thị Xã,le.thi.xa@daklak.example,,email,vi
official_in_charge,24133,Trần Cán Bộ,tran.canbo@daklak.example,,email,vi
official_in_charge,24121,Trần Cán Bộ,tran.canbo@daklak.example,,email,vi
commune_leader,24175,Đã Có Tài Khoản,da.co@daklak.example,,email,vi
commune_leader,24175,Trùng Tên,vp.nguyen@other.example,,email,vi
"""


@pytest.fixture
def scratch(scratch_database_url: str) -> Iterator[tuple[Settings, Engine]]:
    settings = Settings(database_url=scratch_database_url, public_url=PUBLIC_URL)
    engine = make_engine(scratch_database_url)
    yield settings, engine
    engine.dispose()


def test_create_opens_the_first_office_account_and_prints_its_link_once(
    scratch: tuple[Settings, Engine], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, engine = scratch
    username = f"vp.{uuid.uuid4().hex[:8]}"
    code = main(["create", "--username", username, "--name", "Văn phòng BCĐ"], settings)
    out = capsys.readouterr().out
    assert code == 0
    links = LINK.findall(out)
    assert len(links) == 1
    with Session(engine) as session:
        account = session.scalar(select(WebAccount).where(WebAccount.username == username))
        assert account is not None
        assert (account.role, account.password_hash, account.demo) == ("steering_office", "", False)
        setup = session.scalar(select(AccountSetup).where(AccountSetup.account_id == account.id))
        assert setup is not None and setup.token_hash == token_digest(links[0])
        assert setup.created_by == COMMAND_LINE_ACTOR
        entry = session.scalar(select(AuditEntry).where(AuditEntry.subject == username))
        assert entry is not None and (entry.actor, entry.action) == (
            COMMAND_LINE_ACTOR, "account.created",
        )  # fmt: skip

    again = main(["create", "--username", username, "--name", "Lần hai"], settings)
    captured = capsys.readouterr()
    assert again == 2 and "is taken; nothing was created" in captured.err
    assert LINK.findall(captured.out) == []
    bad = main(["create", "--username", "Bad Name", "--name", "x"], settings)
    assert bad == 2 and "is not valid" in capsys.readouterr().err
    with Session(engine) as session:
        assert session.scalar(
            select(func.count()).select_from(WebAccount).where(WebAccount.name == "Lần hai")
        ) == 0  # fmt: skip


def test_invite_opens_an_account_for_every_roster_person_without_one_and_then_none(
    scratch: tuple[Settings, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, engine = scratch
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    import_roster(engine, roster)
    with Session(engine) as session, session.begin():
        # One person already has an account (by email); a username is taken by someone else.
        open_account(
            session,
            NewAccount("da.co.san", "Đã Có", Role.COMMUNE_LEADER, "24175", "da.co@daklak.example"),
            COMMAND_LINE_ACTOR,
            datetime.now(UTC),
        )
        accounts_before = session.scalar(select(func.count()).select_from(WebAccount))
        real_people = session.scalar(
            select(func.count()).select_from(Person).where(Person.demo.is_(False))
        )
    assert real_people == 5

    assert main(["invite"], settings) == 0
    out = capsys.readouterr().out
    assert "invite: 4 accounts opened, 0 setup links emailed" in out
    assert "4 links were not emailed (SMTP is not configured)" in out
    assert LINK.findall(out) == []
    with Session(engine) as session:
        opened = {
            a.username: (a.role, a.commune_code, a.email, a.person_id is not None)
            for a in session.scalars(select(WebAccount).where(WebAccount.email.like("%.example")))
        }
        official_id = session.scalar(
            select(Person.id).where(Person.email == "tran.canbo@daklak.example")
        )
        official = session.scalar(select(WebAccount).where(WebAccount.username == "tran.canbo"))
        assert official is not None and official.person_id == official_id
        assert session.scalar(select(func.count()).select_from(WebAccount)) == (
            (accounts_before or 0) + 4
        )
    assert opened == {
        "da.co.san": ("commune_leader", "24175", "da.co@daklak.example", False),
        "vp.nguyen": ("steering_office", None, "vp.nguyen@daklak.example", False),
        "le.thi.xa": ("commune_leader", "24121", "le.thi.xa@daklak.example", False),
        "tran.canbo": ("official_in_charge", None, "tran.canbo@daklak.example", True),
        "vp.nguyen-2": ("commune_leader", "24175", "vp.nguyen@other.example", False),
    }

    assert main(["invite", "--show-links"], settings) == 0
    assert "invite: 0 accounts opened, 0 setup links emailed" in capsys.readouterr().out


async def test_invite_emails_each_link_and_shows_links_only_when_asked(
    scratch_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(scratch_database_url)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "role,commune_code,name,email,phone,channels,language\n"
        f"commune_leader,24133,Người Mới,moi.{uuid.uuid4().hex[:6]}@daklak.example,,email,vi\n",
        encoding="utf-8",
    )
    import_roster(engine, roster)
    engine.dispose()
    async with smtp_server() as sink:
        settings = Settings(
            database_url=scratch_database_url, public_url=PUBLIC_URL, smtp_host=sink.host,
            smtp_port=sink.port, smtp_starttls=False,
        )  # fmt: skip
        # The command runs its own event loop: here it runs in a thread beside the server's.
        code = await asyncio.to_thread(main, ["invite", "--show-links"], settings)
    out = capsys.readouterr().out
    assert code == 0 and "invite: 1 accounts opened, 1 setup links emailed" in out
    links = LINK.findall(out)
    assert len(links) == 1 and len(sink.messages) == 1
    assert links[0] in sink.messages[0].get_content()  # type: ignore[attr-defined]
