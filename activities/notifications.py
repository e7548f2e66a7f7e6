"""Recording notifications: render each message once per business key into the notifications
table, then start its delivery (workflows/delivery.py) when the installation has a channel for
its person. Issue and reminder messages to a commune leader carry a signed acknowledgement
link."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client

from activities.delivery import DeliveryConfig, delivery_rows, start_deliveries
from activities.delivery.starts import Start, queued_start
from activities.heartbeats import while_heartbeating
from activities.links import AckLink, link_id_for, link_url
from activities.rendering import Renderer
from db.models import (
    PROVINCE_SCOPE,
    Assignment,
    AssignmentEventRow,
    Delivery,
    Directive,
    Notification,
    Person,
    RosterEntry,
    Unit,
)
from db.recipients import Recipient, leaders_in_charge, recipients
from db.upsert import insert_ignoring_duplicates
from vocabulary.directives import CLOSED_STATUSES, NotificationKind
from vocabulary.events import AssignmentEventKind
from vocabulary.roles import ASSIGNEE_ROLES, Role
from workflows import activity_names
from workflows.types import NotifyInput, NotifyResult

# The status of a message this stage only records; delivery adds queued / sent / failed.
RECORDED = "recorded"
# Recorded so that the gap is visible: a commune with nobody on the roster for the role.
NO_RECIPIENT = "no_recipient"
# Every template may use these; StrictUndefined makes a missing one an error, not a blank.
CONTEXT_DEFAULTS: dict[str, Any] = {
    "acknowledge_by": None,
    "reason": "",
    "offset_seconds": "0",
    "level": "",
    "to": "",
    "content_changed": "false",
    "comment": "",
    "granted": "false",
}
# Messages that ask a commune leader to acknowledge: they carry the one-click link.
LINKED_KINDS = frozenset(
    {
        NotificationKind.ISSUED,
        NotificationKind.REMINDER,
        NotificationKind.OVERDUE,
        NotificationKind.AMENDED,
    }
)
# A link without a deadline to measure from (never the case once a directive is planned).
LINK_LIFETIME_WITHOUT_DEADLINE = timedelta(days=90)


def notification_key(
    directive_id: int, commune_code: str, kind: str, step: str, person_id: int | None
) -> str:
    return f"notify:{directive_id}:{commune_code}:{kind}:{step}:{person_id or '-'}"


class NotificationActivities:
    def __init__(
        self,
        engine: Engine,
        renderer: Renderer,
        public_url: str,
        client: Client | None = None,
        delivery: DeliveryConfig | None = None,
    ) -> None:
        self._engine = engine
        self._renderer = renderer
        self._public_url = public_url.rstrip("/")
        self._client = client
        self._delivery = delivery

    @activity.defn(name=activity_names.RECORD_NOTIFICATIONS)
    async def record_notifications(self, request: NotifyInput) -> NotifyResult:
        """Render and record one message per commune and recipient of the role. Each message
        has the key notify:{directive}:{commune}:{kind}:{step}:{person}; a second call with the
        same input records nothing, and starts the delivery of every queued message of its
        keys again (harmless: one delivery workflow per key), so a crash between recording
        and starting loses nothing."""
        result, stored, known = await while_heartbeating(asyncio.to_thread(self._record, request))
        if self._client is not None and self._delivery is not None and (stored or known):
            await while_heartbeating(
                start_deliveries(self._client, self._delivery, stored, self._engine, known)
            )
        return result

    def _record(self, request: NotifyInput) -> tuple[NotifyResult, list[str], list[Start]]:
        """The result; the keys of messages to a person stored before (a repeated call), whose
        state start_deliveries reads; and the starts of those stored as queued now."""
        with Session(self._engine) as session:
            directive = session.get(Directive, request.directive_id)
            if directive is None:
                return NotifyResult(recorded=0, already_recorded=0), [], []
            targets = request.communes
            if request.only_open:
                closed = set(
                    session.scalars(
                        select(Assignment.commune_code).where(
                            Assignment.directive_id == request.directive_id,
                            Assignment.commune_code.in_(targets),
                            Assignment.status.in_([s.value for s in CLOSED_STATUSES]),
                        )
                    )
                )
                targets = [code for code in targets if code not in closed]
            communes = recipients(session, targets)
            agencies = [code for code in targets if isinstance(communes.get(code), Unit)]
            people = self._recipients(session, request.to, targets, request.directive_id, agencies)
            candidates: list[tuple[str, Person | None]] = []
            for code in targets:
                found = people.get(code)
                if found:
                    candidates.extend((code, p) for p in found)
                else:
                    candidates.append((code, None))
            keys = {
                notification_key(
                    request.directive_id, code, request.kind, request.step, p.id if p else None
                ): (code, p)
                for code, p in candidates
            }
            existing = set(
                session.scalars(
                    select(Notification.idempotency_key).where(
                        Notification.idempotency_key.in_(list(keys))
                    )
                )
            )
            fresh = [
                (key, communes[code], person)
                for key, (code, person) in keys.items()
                if key not in existing
            ]
            deadlines = self._deadlines(session, request, directive, targets)
            links = {
                key: self._link(request, directive, c, p, key, deadlines.get(c.code))
                for key, c, p in fresh
            }
            rows = [
                self._message(
                    request,
                    directive,
                    commune,
                    person,
                    key,
                    links[key],
                    deadlines.get(commune.code),
                )
                for key, commune, person in fresh
            ]
        if rows:
            dialect = self._engine.dialect.name
            with Session(self._engine) as session, session.begin():
                session.execute(
                    insert_ignoring_duplicates(
                        Notification.__table__,  # type: ignore[arg-type]
                        dialect,
                        rows,
                    )
                )
                if self._delivery is not None:
                    states = delivery_rows(
                        self._delivery, ((key, p, links[key]) for key, _, p in fresh)
                    )
                    if states:
                        session.execute(
                            insert_ignoring_duplicates(
                                Delivery.__table__,  # type: ignore[arg-type]
                                dialect,
                                states,
                            )
                        )
        stored = [key for key in existing if keys[key][1] is not None]
        known = [
            start
            for key, _, person in fresh
            if person is not None
            and self._delivery is not None
            and (start := queued_start(self._delivery, key, person, request.kind.value))
        ]
        return NotifyResult(recorded=len(rows), already_recorded=len(existing)), stored, known

    @staticmethod
    def _deadlines(
        session: Session, request: NotifyInput, directive: Directive, communes: list[str]
    ) -> dict[str, datetime]:
        """The deadline an amendment notice tells each commune, where it is not the directive's:
        the commune's workflow keeps an extension it was granted when it is later than the
        amended date, so the notice must say that later date. Read from the granted
        extensions, not the assignment rows, which the amendment may not have reached yet."""
        if request.kind != NotificationKind.AMENDED or directive.deadline is None:
            return {}
        granted = session.execute(
            select(AssignmentEventRow.commune_code, AssignmentEventRow.detail)
            .where(
                AssignmentEventRow.directive_id == directive.id,
                AssignmentEventRow.commune_code.in_(communes),
                AssignmentEventRow.kind == AssignmentEventKind.EXTENSION_GRANTED.value,
            )
            .order_by(AssignmentEventRow.commune_code, AssignmentEventRow.seq)
        )
        latest = {code: detail.get("until") for code, detail in granted}
        return {
            code: until
            for code, until in (
                (code, datetime.fromisoformat(text)) for code, text in latest.items() if text
            )
            if until > directive.deadline
        }

    def _link(
        self,
        request: NotifyInput,
        directive: Directive,
        commune: Recipient,
        person: Person | None,
        key: str,
        deadline_here: datetime | None = None,
    ) -> str:
        """The signed acknowledgement link of an issue or reminder to a commune leader; it
        expires when the deadline plus the grace period has passed."""
        if (
            self._delivery is None
            or person is None
            or request.to not in ASSIGNEE_ROLES
            or request.kind not in LINKED_KINDS
        ):
            return ""
        deadline = request.context.get("deadline")
        base = (
            datetime.fromisoformat(deadline)
            if deadline
            else deadline_here
            or directive.deadline
            or directive.issued_at + LINK_LIFETIME_WITHOUT_DEADLINE
        )
        return link_url(
            self._public_url,
            self._delivery.link_keys,
            AckLink(
                link_id=link_id_for(key),
                directive_id=directive.id,
                commune_code=commune.code,
                content_revision=directive.content_revision,
                expires_at=base + self._delivery.link_grace,
            ),
        )

    def _recipients(
        self,
        session: Session,
        role: Role,
        communes: list[str],
        directive_id: int,
        agencies: list[str],
    ) -> dict[str, list[Person]]:
        """The people of `role` for each of `communes` (which may hold agencies' codes too;
        `agencies` says which)."""
        query = select(RosterEntry.scope, Person).join(Person, Person.id == RosterEntry.person_id)
        if role == Role.COMMITTEE_LEADER:
            leaders = leaders_in_charge(session, directive_id)
            return {code: leaders for code in communes}
        # A message to "the leader" of the places reaches an agency's head for an agency.
        roles = [r.value for r in ASSIGNEE_ROLES] if role in ASSIGNEE_ROLES else [role.value]
        if role == Role.STEERING_OFFICE:
            office = list(
                session.scalars(
                    select(Person)
                    .join(RosterEntry, Person.id == RosterEntry.person_id)
                    .where(RosterEntry.role == role.value, RosterEntry.scope == PROVINCE_SCOPE)
                    .order_by(Person.id)
                )
            )
            return {code: office for code in communes}
        found: dict[str, list[Person]] = {}
        for scope, person in session.execute(
            query.where(RosterEntry.role.in_(roles), RosterEntry.scope.in_(communes)).order_by(
                Person.id
            )
        ):
            found.setdefault(scope, []).append(person)
        if role in ASSIGNEE_ROLES and agencies:
            # The head the office named on the agency (`PATCH /api/v1/units`), when the roster
            # does not list them under the agency already.
            for code, person in session.execute(
                select(Unit.code, Person)
                .join(Person, func.lower(Person.email) == func.lower(Unit.head_email))
                .where(Unit.code.in_(agencies))
            ):
                if person not in found.get(code, []):
                    found.setdefault(code, []).append(person)
        return found

    def _page(self, kind: NotificationKind, directive_id: int, code: str) -> str:
        # A co-ordinating unit has no assignment: it finds the task among its own tasks.
        if kind == NotificationKind.COORDINATION:
            return f"{self._public_url}/plans/mine"
        return f"{self._public_url}/api/v1/directives/{directive_id}/assignments/{code}"

    def _message(
        self,
        request: NotifyInput,
        directive: Directive,
        commune: Recipient,
        person: Person | None,
        key: str,
        ack_link: str = "",
        deadline_here: datetime | None = None,
    ) -> dict[str, Any]:
        language = person.language if person else "vi"
        channel = person.channels.split(",")[0] if person else "email"
        context = {
            **CONTEXT_DEFAULTS,
            "directive": {"id": directive.id, "title": directive.title, "body": directive.body},
            "commune": {"code": commune.code, "name": commune.name},
            "recipient": {"name": person.name if person else ""},
            "deadline": deadline_here or directive.deadline,
            "acknowledge_by": directive.acknowledge_by,
            "link": ack_link or self._page(request.kind, directive.id, commune.code),
            **request.context,
        }
        message = self._renderer.render(request.kind, channel, language, context)
        return {
            "idempotency_key": key,
            "directive_id": request.directive_id,
            "commune_code": commune.code,
            "kind": request.kind.value,
            "step": request.step,
            "person_id": person.id if person else None,
            "recipient": person.email if person else "",
            "recipient_role": _role_of(request.to, commune).value,
            "channel": channel,
            "language": language,
            "subject": message.subject[:500],
            "body": message.body,
            "status": RECORDED if person else NO_RECIPIENT,
        }


def _role_of(to: Role, place: Recipient) -> Role:
    """The role a message reaches: "the leader" of an agency is its head."""
    return Role.AGENCY_HEAD if to in ASSIGNEE_ROLES and isinstance(place, Unit) else to
