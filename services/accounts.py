"""Accounts for the pages. The demo roster comes with demo accounts (never in production,
where AXIS_LOAD_DEMO_ROSTER is false): the office, and a leader for every commune.

Real people's accounts are opened by the steering office (API, pages, or the command line for
the first one) without a password: the person chooses it through a single-use setup link that
expires after SETUP_LINK_HOURS. Only the link token's SHA-256 is stored. Every change writes an
audit entry in the same transaction. These functions take a synchronous Session (the API and the
pages run them through `AsyncSession.run_sync`, `commit_change` for a change) and raise
AccountError subclasses, which are `services.errors` refusals, never HTTP errors."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine, delete, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.audit import audit_entry
from db.communes import DAK_LAK
from db.models import (
    AccountSetup,
    Commune,
    Person,
    RosterEntry,
    Unit,
    WebAccount,
    WebSession,
)
from services.account_schemas import AccountPublic
from services.errors import Conflict, Invalid, NotFound, ServiceError
from services.passwords import hash_password
from services.principals import hash_token
from vocabulary.roles import ASSIGNEE_ROLES, Role

DEMO_OFFICE_USERNAME = "vanphong"
DEMO_OFFICE_PASSWORD = "vanphong-demo"
DEMO_LEADER_PASSWORD = "xa-demo"
DEMO_LEADER_EXAMPLE = "24133"


def leader_username(commune_code: str) -> str:
    return f"xa{commune_code}"


def agency_username(unit_code: str) -> str:
    return f"coquan-{unit_code.lower()}"


def create_account(
    session: Session,
    username: str,
    password: str,
    role: Role,
    name: str,
    commune_code: str | None = None,
) -> WebAccount:
    if role in ASSIGNEE_ROLES and commune_code is None:
        raise ValueError("a commune leader's or agency head's account belongs to one unit")
    account = WebAccount(
        username=username,
        name=name,
        role=role.value,
        commune_code=commune_code if role in ASSIGNEE_ROLES else None,
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
        # The agencies' heads share the leaders' password: a plan's task is tried end to end.
        for code, name in session.execute(select(Unit.code, Unit.name).order_by(Unit.code)):
            if agency_username(code) in existing:
                continue
            leader_hash = leader_hash or hash_password(DEMO_LEADER_PASSWORD)
            session.add(
                WebAccount(
                    username=agency_username(code),
                    name=f"Thủ trưởng {name} (demo)",
                    role=Role.AGENCY_HEAD.value,
                    commune_code=code,
                    password_hash=leader_hash,
                    demo=True,
                )
            )
            added += 1
    return added


# Long enough for a link emailed on Friday to be opened on Monday morning.
SETUP_LINK_HOURS = 72
USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
USERNAME_RULE = "3 to 64 characters: lowercase letters, digits, dot, dash or underscore"
# Who acts when no signed-in person does: `make account` and `make roster INVITE=1`.
COMMAND_LINE_ACTOR = "operator:command-line"


class AccountError(ServiceError):
    """A refused account change, with a sentence for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class AccountNotFound(AccountError, NotFound):
    pass


class AccountConflict(AccountError, Conflict):
    pass


class AccountInvalid(AccountError, Invalid):
    pass


class SetupLinkGone(AccountError, NotFound):
    """The link is unknown, used, superseded by a newer one, or expired."""


@dataclass(frozen=True)
class NewAccount:
    username: str
    name: str
    role: Role
    commune_code: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class IssuedLink:
    """An account and its fresh setup token: the token exists nowhere else, so whoever gets
    this shows or sends it once."""

    account_id: int
    username: str
    name: str
    role: str
    commune_code: str | None
    email: str | None
    token: str
    expires_at: datetime


def setup_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/setup/{token}"


def check_new_account(session: Session, new: NewAccount) -> None:
    if not USERNAME_PATTERN.fullmatch(new.username):
        raise AccountInvalid(f"username {new.username!r} is not valid: {USERNAME_RULE}")
    if new.role == Role.COMMUNE_LEADER:
        if not new.commune_code:
            raise AccountInvalid("a commune_leader account needs commune_code")
        if session.get(Commune, new.commune_code) is None:
            raise AccountInvalid(f"unknown commune {new.commune_code}")
    elif new.role == Role.AGENCY_HEAD:
        if not new.commune_code:
            raise AccountInvalid("an agency_head account needs commune_code: the agency's code")
        if session.get(Unit, new.commune_code) is None:
            raise AccountInvalid(f"unknown agency {new.commune_code}")
    elif new.commune_code:
        raise AccountInvalid(f"a {new.role.value} account is province-wide: leave commune_code out")
    if new.email is not None and "@" not in new.email:
        raise AccountInvalid(f"email {new.email!r} is not an address")
    if session.scalar(select(WebAccount.id).where(WebAccount.username == new.username)):
        raise AccountConflict(f"the username {new.username} is taken")


def _issue_link(session: Session, account: WebAccount, actor: str, now: datetime) -> IssuedLink:
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=SETUP_LINK_HOURS)
    session.add(
        AccountSetup(
            account_id=account.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=expires_at,
            created_by=actor,
        )
    )
    return IssuedLink(
        account_id=account.id,
        username=account.username,
        name=account.name,
        role=account.role,
        commune_code=account.commune_code,
        email=account.email,
        token=token,
        expires_at=expires_at,
    )


def open_account(
    session: Session, new: NewAccount, actor: str, now: datetime, client: str | None = None
) -> IssuedLink:
    """A new account without a password, and its first setup link. An official in charge is
    tied to the roster person with the same email (their communes come from the roster)."""
    check_new_account(session, new)
    email = new.email.strip().lower() if new.email else None
    person_id = None
    if new.role == Role.OFFICIAL_IN_CHARGE and email:
        person_id = session.scalar(select(Person.id).where(Person.email == email))
    account = WebAccount(
        username=new.username,
        name=new.name,
        role=new.role.value,
        commune_code=new.commune_code,
        email=email,
        person_id=person_id,
        password_hash="",
        created_at=now,
    )
    session.add(account)
    session.flush()
    link = _issue_link(session, account, actor, now)
    session.add(
        audit_entry(
            actor,
            "account.created",
            account.username,
            client=client,
            detail={"role": account.role, "commune_code": account.commune_code},
        )
    )
    return link


def _account(session: Session, account_id: int) -> WebAccount:
    account = session.get(WebAccount, account_id)
    if account is None:
        raise AccountNotFound(f"account {account_id} not found")
    return account


def disable_account(
    session: Session, account_id: int, actor: str, now: datetime, client: str | None = None
) -> WebAccount:
    """Refused at sign-in from now on; its open sessions are deleted, so a browser signed in
    with it lands on the sign-in page at its next request."""
    account = _account(session, account_id)
    if account.disabled_at is None:
        account.disabled_at = now
        session.execute(delete(WebSession).where(WebSession.account_id == account.id))
        session.add(audit_entry(actor, "account.disabled", account.username, client=client))
    return account


def enable_account(
    session: Session, account_id: int, actor: str, now: datetime, client: str | None = None
) -> WebAccount:
    account = _account(session, account_id)
    if account.disabled_at is not None:
        account.disabled_at = None
        session.add(audit_entry(actor, "account.enabled", account.username, client=client))
    return account


def reset_account(
    session: Session, account_id: int, actor: str, now: datetime, client: str | None = None
) -> IssuedLink:
    """A new setup link; every older link of the account stops working. The password (if
    any) and the sessions stay as they are until the person uses the new link."""
    account = _account(session, account_id)
    link = _issue_link(session, account, actor, now)
    session.add(audit_entry(actor, "account.reset", account.username, client=client))
    return link


def pending_setup(session: Session, token: str, now: datetime) -> tuple[AccountSetup, WebAccount]:
    """The link and its account while it can still be used; it is not consumed here."""
    found = session.execute(
        select(AccountSetup, WebAccount)
        .join(WebAccount, WebAccount.id == AccountSetup.account_id)
        .where(AccountSetup.token_hash == hash_token(token))
    ).first()
    if found is None:
        raise SetupLinkGone("Liên kết không tồn tại.")
    setup, account = found
    newest = session.scalar(
        select(func.max(AccountSetup.id)).where(AccountSetup.account_id == account.id)
    )
    if setup.used_at is not None:
        raise SetupLinkGone("Liên kết này đã được dùng.")
    if newest != setup.id:
        raise SetupLinkGone("Liên kết này đã được thay bằng một liên kết mới hơn.")
    if setup.expires_at <= now:
        raise SetupLinkGone("Liên kết này đã hết hạn.")
    if account.disabled_at is not None:
        raise SetupLinkGone("Tài khoản này đã bị khóa.")
    return setup, account


def complete_setup(
    session: Session, token: str, password_hash: str, now: datetime, client: str | None = None
) -> WebAccount:
    """Set the password chosen through the link and use the link up. The hash is computed by
    the caller, off the event loop; the link is checked again here, in this transaction."""
    setup, account = pending_setup(session, token, now)
    # Conditional, so that of two requests racing with one link only one sets a password.
    used = session.execute(
        update(AccountSetup)
        .where(AccountSetup.id == setup.id, AccountSetup.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise SetupLinkGone("Liên kết này đã được dùng.")
    account.password_hash = password_hash
    session.add(
        audit_entry(f"account:{account.username}", "account.password_set", account.username,
                    client=client)
    )  # fmt: skip
    return account


def list_accounts(session: Session, only: int | None = None) -> list[AccountPublic]:
    """Every account with its open sessions (the newest one's start is its last sign-in still
    on record: signing out removes a session)."""
    sessions = (
        select(
            WebSession.account_id,
            func.count().label("open"),
            func.max(WebSession.created_at).label("latest"),
        )
        .group_by(WebSession.account_id)
        .subquery()
    )
    rows = session.execute(
        select(WebAccount, sessions.c.open, sessions.c.latest)
        .outerjoin(sessions, sessions.c.account_id == WebAccount.id)
        .where(WebAccount.id == only if only is not None else true())
        .order_by(WebAccount.id)
    )
    return [
        AccountPublic(
            id=a.id,
            username=a.username,
            name=a.name,
            role=a.role,
            commune_code=a.commune_code,
            email=a.email,
            person_id=a.person_id,
            disabled=a.disabled_at is not None,
            has_password=bool(a.password_hash),
            demo=a.demo,
            created_at=a.created_at,
            open_sessions=open_count or 0,
            last_signed_in_at=latest,
        )
        for a, open_count, latest in rows
    ]


T = TypeVar("T")


async def commit_change(session: AsyncSession, change: Callable[[Session], T]) -> T:
    """One account change and its audit entry, committed together; a refusal changes nothing
    and is raised as it is."""
    try:
        result = await session.run_sync(change)
        await session.commit()
    except AccountError:
        await session.rollback()
        raise
    except IntegrityError as e:
        # Two offices opening the same username at once: the unique index decides.
        await session.rollback()
        raise AccountConflict("the username is taken") from e
    return result


# Several roster roles: the widest one is the account's.
ROLE_PRECEDENCE = (
    "steering_office",
    "committee_leader",
    "official_in_charge",
    "agency_head",
    "commune_leader",
)


def username_from_email(email: str, taken: set[str]) -> str:
    """The address's local part, lowercased, other characters turned into dots; `-2`, `-3`
    … when taken."""
    local = re.sub(r"[^a-z0-9._-]+", ".", email.split("@")[0].lower()).strip(".")[:60]
    base = local if len(local) >= 3 else f"{local}.user".lstrip(".")
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def invite_roster(session: Session, actor: str, now: datetime) -> list[IssuedLink]:
    """An account and a setup link for every real (non-demo) person on the roster who has
    none yet, matched by person or email; a second run opens nothing."""
    accounts = list(session.execute(select(WebAccount.username, WebAccount.person_id,
                                           WebAccount.email)))  # fmt: skip
    taken = {username for username, _, _ in accounts}
    covered_people = {person_id for _, person_id, _ in accounts if person_id is not None}
    covered_emails = {email.lower() for _, _, email in accounts if email}
    roles: dict[int, list[tuple[str, str]]] = {}
    for person_id, role, scope in session.execute(
        select(RosterEntry.person_id, RosterEntry.role, RosterEntry.scope).order_by(
            RosterEntry.scope
        )
    ):
        roles.setdefault(person_id, []).append((role, scope))
    links: list[IssuedLink] = []
    people = session.scalars(select(Person).where(Person.demo.is_(False)).order_by(Person.id))
    for person in people:
        if person.id in covered_people or person.email.lower() in covered_emails:
            continue
        entries = roles.get(person.id)
        if not entries:
            continue
        role = min((r for r, _ in entries), key=ROLE_PRECEDENCE.index)
        scoped = role in {r.value for r in ASSIGNEE_ROLES}
        commune = next(s for r, s in entries if r == role) if scoped else None
        username = username_from_email(person.email, taken)
        taken.add(username)
        new = NewAccount(username, person.name, Role(role), commune, person.email)
        # open_account ties an official to this person through the (same) email.
        links.append(open_account(session, new, actor, now))
    return links
