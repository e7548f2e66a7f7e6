"""Accounts from the command line, for the operator:

    python -m accounts_cli create --username vp.nguyen --name "Nguyễn Văn A" [--email ...]
        [--role steering_office] [--commune 24133]
    python -m accounts_cli invite [--show-links]

`create` opens one account and prints its setup link once: the way to the first steering-office
account on a fresh production database (nobody can sign in yet to open it through the pages).
`invite` opens an account for every real person on the roster who has none (username: the
local part of their email, `-2`, `-3` … when taken) and emails each their setup link when SMTP
is configured. It prints counts; the links themselves only with --show-links, since whoever
holds a link can set that person's password."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from config import Settings, get_settings
from db.engine import make_engine
from services.accounts import (
    COMMAND_LINE_ACTOR,
    AccountError,
    IssuedLink,
    NewAccount,
    invite_roster,
    open_account,
    setup_url,
)
from services.setup_mail import send_setup_link, smtp_configured
from vocabulary.roles import Role


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m accounts_cli", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="open one account and print its setup link")
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--email")
    create.add_argument(
        "--role", default=Role.STEERING_OFFICE.value, choices=[r.value for r in Role]
    )
    create.add_argument("--commune", help="the commune of a commune_leader")
    invite = sub.add_parser("invite", help="open an account for everyone on the roster")
    invite.add_argument(
        "--show-links", action="store_true", help="print every new setup link (keep them safe)"
    )
    return parser


async def _send_all(settings: Settings, links: Sequence[IssuedLink]) -> int:
    sent = 0
    for link in links:
        sent += await send_setup_link(settings, link)
    return sent


def create(settings: Settings, args: argparse.Namespace) -> int:
    new = NewAccount(
        username=args.username.strip(),
        name=args.name.strip(),
        role=Role(args.role),
        commune_code=args.commune,
        email=args.email,
    )
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session, session.begin():
            link = open_account(session, new, COMMAND_LINE_ACTOR, datetime.now(UTC))
    except AccountError as e:
        sys.stderr.write(f"account: {e.message}; nothing was created\n")
        return 2
    finally:
        engine.dispose()
    emailed = asyncio.run(send_setup_link(settings, link))
    sys.stdout.write(
        f"account: {link.username} ({link.role}) opened; setup link, valid until "
        f"{link.expires_at:%Y-%m-%d %H:%M} UTC, shown once:\n"
        f"{setup_url(settings.public_url, link.token)}\n"
    )
    if emailed:
        sys.stdout.write(f"account: the link was also emailed to {link.email}\n")
    return 0


def invite(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session, session.begin():
            links = invite_roster(session, COMMAND_LINE_ACTOR, datetime.now(UTC))
    finally:
        engine.dispose()
    emailed = asyncio.run(_send_all(settings, links)) if links else 0
    sys.stdout.write(f"invite: {len(links)} accounts opened, {emailed} setup links emailed\n")
    if args.show_links:
        for link in links:
            sys.stdout.write(f"{link.username}\t{setup_url(settings.public_url, link.token)}\n")
    elif len(links) > emailed:
        reason = "SMTP is not configured" if not smtp_configured(settings) else "some failed"
        sys.stdout.write(
            f"invite: {len(links) - emailed} links were not emailed ({reason}); give those "
            "people a new link from /accounts (reset), which shows it to the office once\n"
        )
    return 0


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = settings or get_settings()
    if args.command == "create":
        return create(settings, args)
    return invite(settings, args)


if __name__ == "__main__":
    sys.exit(main())
