"""Activities of the dossier and feedback workflows: the read model, the calendar, the routing
and the messages. Each is idempotent: state writes carry the workflow's sequence number (an
older or repeated write changes nothing), events have a unique (case, seq), and messages a
unique key notify:{case}:{kind}:{step}:{recipient}. A message to a person on the roster is
delivered as a directive's is (workflows/delivery.py), on the person's channels in their
order."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.delivery import DeliveryConfig, delivery_rows, start_deliveries
from activities.delivery.messages import case_link
from activities.notifications import CONTEXT_DEFAULTS, NO_RECIPIENT, RECORDED
from activities.rendering import Renderer
from activities.routing import SERVICES, classify
from db.changes import append_changes
from db.models import (
    PROVINCE_SCOPE,
    Commune,
    Delivery,
    Dossier,
    DossierEventRow,
    Feedback,
    FeedbackEventRow,
    Notification,
    Person,
    Procedure,
    RosterEntry,
    utcnow,
)
from db.upsert import insert_ignoring_duplicates
from vocabulary.calendar import resumed_due, working_days_later
from vocabulary.cases import APPLICANT
from vocabulary.roles import Role
from workflows import activity_names
from workflows.procedure_types import (
    AppointmentInput,
    CaseNotifyInput,
    CaseNotifyResult,
    DueTime,
    RecordDossierInput,
    RecordFeedbackInput,
    ResumeDueInput,
    RouteFeedbackInput,
    Routing,
)

SERVICE_NAMES = {s.code: s.name for s in SERVICES}


def case_notification_key(case_id: str, kind: str, step: str, recipient: str) -> str:
    return f"notify:{case_id}:{kind}:{step}:{recipient}"


class ProcedureActivities:
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

    # ---- calendar ---------------------------------------------------------------------------

    @activity.defn(name=activity_names.DOSSIER_RESUMED_DUE)
    def dossier_resumed_due(self, request: ResumeDueInput) -> DueTime:
        """The due time after a supplement pause, on the working-day calendar. Pure."""
        return DueTime(
            resumed_due(request.due_at, request.paused_at, request.resumed_at, request.unit)
        )

    @activity.defn(name=activity_names.DOSSIER_APPOINTMENT)
    def dossier_appointment(self, request: AppointmentInput) -> DueTime:
        """The new appointment an apology letter gives: working days after the due date. Pure."""
        return DueTime(working_days_later(request.due_at, request.working_days))

    # ---- read model -------------------------------------------------------------------------

    @activity.defn(name=activity_names.RECORD_DOSSIER)
    def record_dossier(self, request: RecordDossierInput) -> None:
        """Write the dossier's state and one event; a repeated or older write changes nothing."""
        state = request.state
        columns: dict[str, Any] = {
            "commune_code": state.commune_code,
            "status": state.status.value,
            "timeliness": state.timeliness.value,
            "due_at": state.due_at,
            "level": state.level.value,
            "paused_at": state.paused_at,
            "paused_seconds": state.paused_seconds,
            "appointment_at": state.appointment_at,
            "result_at": state.result_at,
            "closed_at": state.closed_at,
            "escalation_level": state.escalation_level,
            "refusal_reason": state.refusal_reason,
            "seq": state.seq,
            "updated_at": utcnow(),
        }
        with Session(self._engine) as session, session.begin():
            applied = session.execute(
                update(Dossier)
                .where(Dossier.id == state.dossier_id, Dossier.seq < state.seq)
                .values(**columns)
            )
            if applied.rowcount:  # type: ignore[attr-defined]
                # Ids and states only: a dossier's applicant never reaches the feed.
                append_changes(
                    session,
                    [
                        {
                            "entity": "dossier",
                            "directive_id": None,
                            "commune_code": state.commune_code,
                            "kind": request.event.kind,
                            "detail": {
                                "dossier_id": state.dossier_id,
                                "seq": state.seq,
                                "status": state.status.value,
                                "timeliness": state.timeliness.value,
                                "level": state.level.value,
                            },
                            "at": utcnow(),
                        }
                    ],
                )
            session.execute(
                insert_ignoring_duplicates(
                    DossierEventRow.__table__,  # type: ignore[arg-type]
                    self._engine.dialect.name,
                    [
                        {
                            "dossier_id": state.dossier_id,
                            "seq": state.seq,
                            "kind": request.event.kind,
                            "at": request.event.at,
                            "actor": request.event.actor,
                            "detail": request.event.detail,
                        }
                    ],
                )
            )

    @activity.defn(name=activity_names.ROUTE_FEEDBACK)
    def route_feedback(self, request: RouteFeedbackInput) -> Routing:
        """Classify a feedback and settle its answer-by time, once: a repeat returns what the
        first call stored."""
        with Session(self._engine) as session, session.begin():
            row = session.get(Feedback, request.feedback_id, with_for_update=True)
            if row is None:
                raise ApplicationError(
                    f"feedback {request.feedback_id} does not exist", non_retryable=True
                )
            if row.routing_method is None:
                known = set(session.scalars(select(Commune.code)))
                chosen = row.chosen_commune_code if row.chosen_commune_code in known else None
                result = classify(row.description, row.address, row.chosen_service_code, chosen)
                row.service_code = result.service_code
                row.commune_code = result.commune_code
                row.routing_method = result.commune_method
                row.answer_due_at = working_days_later(
                    request.received_at, request.answer_within_working_days
                )
                row.updated_at = utcnow()
            assert row.answer_due_at is not None and row.service_code is not None
            return Routing(
                service_code=row.service_code,
                commune_code=row.commune_code or "",
                method=row.routing_method,
                answer_due_at=row.answer_due_at,
            )

    @activity.defn(name=activity_names.RECORD_FEEDBACK)
    def record_feedback(self, request: RecordFeedbackInput) -> None:
        """Write the feedback's state (and its answer) and one event; idempotent by seq."""
        state = request.state
        columns: dict[str, Any] = {
            "status": state.status.value,
            "commune_code": state.commune_code,
            "answered_at": state.answered_at,
            "answered_on_time": state.answered_on_time,
            "escalation_level": state.escalation_level,
            "rating": state.rating,
            "forwarded": state.forwarded,
            "seq": state.seq,
            "updated_at": utcnow(),
        }
        if request.answer is not None:
            columns["answer"] = request.answer
        with Session(self._engine) as session, session.begin():
            applied = session.execute(
                update(Feedback)
                .where(Feedback.id == state.feedback_id, Feedback.seq < state.seq)
                .values(**columns)
            )
            if applied.rowcount:  # type: ignore[attr-defined]
                # Ids and states only: the citizen's words and contact never reach the feed.
                append_changes(
                    session,
                    [
                        {
                            "entity": "feedback",
                            "directive_id": None,
                            "commune_code": state.commune_code or "",
                            "kind": request.event.kind,
                            "detail": {
                                "feedback_id": state.feedback_id,
                                "seq": state.seq,
                                "status": state.status.value,
                                "answered_on_time": state.answered_on_time,
                            },
                            "at": utcnow(),
                        }
                    ],
                )
            session.execute(
                insert_ignoring_duplicates(
                    FeedbackEventRow.__table__,  # type: ignore[arg-type]
                    self._engine.dialect.name,
                    [
                        {
                            "feedback_id": state.feedback_id,
                            "seq": state.seq,
                            "kind": request.event.kind,
                            "at": request.event.at,
                            "actor": request.event.actor,
                            "detail": request.event.detail,
                        }
                    ],
                )
            )

    # ---- messages ---------------------------------------------------------------------------

    @activity.defn(name=activity_names.RECORD_CASE_NOTIFICATIONS)
    async def record_case_notifications(self, request: CaseNotifyInput) -> CaseNotifyResult:
        """Render and record one message of a dossier or feedback per recipient: the people of
        a role for the commune (the steering office for the province), or the applicant. A
        second call with the same input records nothing, and starts the delivery of every
        queued message of its keys again (one delivery workflow per key), so a crash between
        recording and starting loses nothing. The applicant's message is only recorded."""
        result, keys = await asyncio.to_thread(self._record_case, request)
        if self._client is not None and self._delivery is not None and keys:
            await start_deliveries(self._client, self._delivery, keys, self._engine)
        return result

    def _record_case(self, request: CaseNotifyInput) -> tuple[CaseNotifyResult, list[str]]:
        with Session(self._engine) as session:
            case = self._case(session, request.case_id)
            commune = session.get(Commune, request.commune_code) if request.commune_code else None
            recipients: list[tuple[str, Person | None, str]] = []
            if request.to == APPLICANT:
                contact = (
                    case.applicant_contact
                    if isinstance(case, Dossier)
                    else case.email or case.phone
                )
                recipients.append((contact or "-", None, contact or ""))
            else:
                people = self._people(session, Role(request.to), request.commune_code)
                recipients.extend((str(p.id), p, p.email) for p in people)
                if not people:
                    recipients.append(("-", None, ""))
            keys = {
                case_notification_key(request.case_id, request.kind, request.step, who): (p, addr)
                for who, p, addr in recipients
            }
            existing = set(
                session.scalars(
                    select(Notification.idempotency_key).where(
                        Notification.idempotency_key.in_(list(keys))
                    )
                )
            )
            context = self._context(session, case, commune, request)
            fresh = [(key, p, addr) for key, (p, addr) in keys.items() if key not in existing]
            rows = [self._message(request, context, key, p, addr) for key, p, addr in fresh]
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
                states = (
                    delivery_rows(self._delivery, ((key, p, "") for key, p, _ in fresh))
                    if self._delivery is not None
                    else []
                )
                if states:
                    session.execute(
                        insert_ignoring_duplicates(
                            Delivery.__table__,  # type: ignore[arg-type]
                            dialect,
                            states,
                        )
                    )
        with_person = [key for key, (person, _) in keys.items() if person is not None]
        return (
            CaseNotifyResult(recorded=len(rows), already_recorded=len(existing)),
            with_person,
        )

    def _case(self, session: Session, case_id: str) -> Dossier | Feedback:
        kind, _, number = case_id.partition("-")
        found: Dossier | Feedback | None = (
            session.get(Dossier, int(number))
            if kind == "dossier"
            else session.get(Feedback, int(number))
        )
        if found is None:
            raise ApplicationError(f"{case_id} does not exist", non_retryable=True)
        return found

    def _people(self, session: Session, role: Role, commune_code: str) -> list[Person]:
        scope = PROVINCE_SCOPE if role == Role.STEERING_OFFICE else commune_code
        return list(
            session.scalars(
                select(Person)
                .join(RosterEntry, Person.id == RosterEntry.person_id)
                .where(RosterEntry.role == role.value, RosterEntry.scope == scope)
                .order_by(Person.id)
            )
        )

    def _context(
        self,
        session: Session,
        case: Dossier | Feedback,
        commune: Commune | None,
        request: CaseNotifyInput,
    ) -> dict[str, Any]:
        context: dict[str, Any] = {
            **CONTEXT_DEFAULTS,
            "commune": {
                "code": commune.code if commune else "",
                "name": commune.name if commune else "",
            },
            "receipt_code": case.receipt_code,
            "lookup_link": f"{self._public_url}/tra-cuu?code={case.receipt_code}",
        }
        if isinstance(case, Dossier):
            procedure = session.get(Procedure, case.procedure_code)
            context["dossier"] = {
                "id": case.id,
                "procedure": procedure.name if procedure else case.procedure_code,
                "applicant": case.applicant_reference,
                "received_at": case.received_at,
                "due_at": case.due_at,
            }
        else:
            context["feedback"] = {
                "id": case.id,
                "service": SERVICE_NAMES.get(case.service_code or "", case.service_code or ""),
                "description": case.description,
                "answer_due_at": case.answer_due_at,
                "answer": case.answer or "",
            }
        # The same link the message's SMS and ZNS carry, built in one place.
        context["link"] = case_link(self._public_url, request.case_id)
        return {**context, **request.context}

    def _message(
        self,
        request: CaseNotifyInput,
        context: dict[str, Any],
        key: str,
        person: Person | None,
        address: str,
    ) -> dict[str, Any]:
        language = person.language if person else "vi"
        channel = person.channels.split(",")[0] if person else "email"
        values = {**context, "recipient": {"name": person.name if person else ""}}
        message = self._renderer.render(request.kind.value, channel, language, values)
        return {
            "idempotency_key": key,
            "directive_id": None,
            "case_id": request.case_id,
            "commune_code": request.commune_code,
            "kind": request.kind.value,
            "step": request.step,
            "person_id": person.id if person else None,
            "recipient": address,
            "recipient_role": request.to,
            "channel": channel,
            "language": language,
            "subject": message.subject[:500],
            "body": message.body,
            "status": RECORDED if address else NO_RECIPIENT,
        }
