"""Recording notifications: render each message once per business key into the notifications
table. Delivery over real channels reads from there; here the message is recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio import activity

from activities.rendering import Renderer
from db.models import (
    PROVINCE_SCOPE,
    Assignment,
    Commune,
    Directive,
    Notification,
    Person,
    RosterEntry,
)
from db.upsert import insert_ignoring_duplicates
from workflows import activity_names
from workflows.types import CLOSED_STATUSES, NotifyInput, NotifyResult, Role

HEARTBEAT_EVERY = 50

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


def notification_key(
    directive_id: int, commune_code: str, kind: str, step: str, person_id: int | None
) -> str:
    return f"notify:{directive_id}:{commune_code}:{kind}:{step}:{person_id or '-'}"


class NotificationActivities:
    def __init__(self, engine: Engine, renderer: Renderer, public_url: str) -> None:
        self._engine = engine
        self._renderer = renderer
        self._public_url = public_url.rstrip("/")

    @activity.defn(name=activity_names.RECORD_NOTIFICATIONS)
    def record_notifications(self, request: NotifyInput) -> NotifyResult:
        """Render and record one message per commune and recipient of the role. Each message
        has the key notify:{directive}:{commune}:{kind}:{step}:{person}; a second call with the
        same input records nothing."""
        with Session(self._engine) as session:
            directive = session.get(Directive, request.directive_id)
            if directive is None:
                return NotifyResult(recorded=0, already_recorded=0)
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
            communes = {
                c.code: c for c in session.scalars(select(Commune).where(Commune.code.in_(targets)))
            }
            recipients = self._recipients(session, request.to, targets)
            candidates: list[tuple[str, Person | None]] = []
            for code in targets:
                people = recipients.get(code)
                if people:
                    candidates.extend((code, p) for p in people)
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
            rows = []
            for key, (code, person) in keys.items():
                if key not in existing:
                    rows.append(self._message(request, directive, communes[code], person, key))
                    if len(rows) % HEARTBEAT_EVERY == 0:
                        # Alive while rendering thousands: a dead worker is noticed in seconds.
                        activity.heartbeat(len(rows))
        if rows:
            with Session(self._engine) as session, session.begin():
                session.execute(
                    insert_ignoring_duplicates(
                        Notification.__table__,  # type: ignore[arg-type]
                        self._engine.dialect.name,
                        rows,
                    )
                )
        return NotifyResult(recorded=len(rows), already_recorded=len(existing))

    def _recipients(
        self, session: Session, role: Role, communes: list[str]
    ) -> dict[str, list[Person]]:
        query = select(RosterEntry.scope, Person).join(Person, Person.id == RosterEntry.person_id)
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
            query.where(RosterEntry.role == role.value, RosterEntry.scope.in_(communes)).order_by(
                Person.id
            )
        ):
            found.setdefault(scope, []).append(person)
        return found

    def _message(
        self,
        request: NotifyInput,
        directive: Directive,
        commune: Commune,
        person: Person | None,
        key: str,
    ) -> dict[str, Any]:
        language = person.language if person else "vi"
        channel = person.channels.split(",")[0] if person else "email"
        context = {
            **CONTEXT_DEFAULTS,
            "directive": {"id": directive.id, "title": directive.title, "body": directive.body},
            "commune": {"code": commune.code, "name": commune.name},
            "recipient": {"name": person.name if person else ""},
            "deadline": directive.deadline,
            "acknowledge_by": directive.acknowledge_by,
            "link": f"{self._public_url}/api/v1/directives/{directive.id}"
            f"/assignments/{commune.code}",
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
            "recipient_role": request.to.value,
            "channel": channel,
            "language": language,
            "subject": message.subject[:500],
            "body": message.body,
            "status": RECORDED if person else NO_RECIPIENT,
        }
