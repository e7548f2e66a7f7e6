"""Record the event histories that CI replays against the current workflow code, into a new
version folder of the archive (tests/histories/README.md):

    make histories [HISTORIES_VERSION=<name>]       (default: today's date, YYYY-MM-DD)
    python -m tests.histories.record [<name>]

Runs one directive through every path an assignment can take (acknowledged, reported, returned
for rework, accepted late, extension granted, reminded and escalated, amended, recalled) on the
time-skipping server with the product's activities on a scratch SQLite database, a directive
long enough to continue as new on the dev server, a week of a recurring obligation, an
assignment caught up after a worker outage, an extension that outlasts an amendment, and the
delivery paths (a retry held to the end of quiet hours and a digest's late message among them),
and writes each workflow's history to tests/histories/<name>/*.json. A file the folder holds
already is never overwritten: the recorder refuses before it starts."""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from db.communes import communes_of_province
from db.engine import make_engine
from db.migrate import load_communes, upgrade
from db.models import RecurringDirective
from db.roster import DEMO_ROSTER, import_roster
from tests.conftest import TEMPORAL_CLI, TEST_SERVER, running_worker
from tests.factories import store_directive
from tests.histories.archive import claim, version_folder, write
from tests.workflows.helpers import DAY, advance_to, issue
from vocabulary.calendar import VIETNAM as VIETNAM_TZ
from vocabulary.directives import DirectivePolicy, EscalationStep, assignment_workflow_id
from vocabulary.roles import Role
from worker import ACTIVITY_THREADS
from workflows.assignment import AssignmentWorkflow
from workflows.directive import DirectiveWorkflow
from workflows.obligation import ObligationPeriodWorkflow
from workflows.obligation_types import ObligationPeriodInput
from workflows.types import (
    AcknowledgeInput,
    AmendDirectiveInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    RecallDirectiveInput,
    ReportInput,
    ReviewInput,
)

NAMES = [
    "directive-recalled",
    "assignment-reworked-accepted-late",
    "assignment-extended-on-time",
    "assignment-escalated-recalled",
    "assignment-acknowledged-amended-recalled",
]
OBLIGATION_NAME = "obligation-period-closed"
CONTINUED_NAMES = ["directive-continued-as-new", "directive-carried-closed"]
CAUGHT_UP_NAME = "assignment-caught-up-after-outage"
OUTLASTING_NAME = "assignment-extension-outlasts-amendment"
DELIVERY_NAMES = [
    "delivery-retried-sent",
    "delivery-fallback-sent",
    "delivery-dead-lettered",
    "delivery-in-digest",
    "digest-sent",
]
QUIET_RETRY_NAME = "delivery-retried-after-quiet-hours"
LATE_DIGEST_NAME = "digest-joined-late"
EVERY_NAME = [
    *NAMES,
    OBLIGATION_NAME,
    CAUGHT_UP_NAME,
    OUTLASTING_NAME,
    *CONTINUED_NAMES,
    *DELIVERY_NAMES,
    QUIET_RETRY_NAME,
    LATE_DIGEST_NAME,
]
# The dev server suggests continuing as new past this many events (its default is 4,096): a
# directive to six communes crosses it, as a national one crosses the workflow's own bound.
SUGGEST_CONTINUE_AFTER_EVENTS = 30
# One commune per path: accepted after rework, extended, escalated, and acknowledged then asked
# to acknowledge the amended text again before the recall.
REWORKED, EXTENDED, ESCALATED, RECALLED = "24121", "24133", "24175", "24163"
POLICY = DirectivePolicy(
    reminder_offsets_seconds=[86400, -86400],
    escalation=[
        EscalationStep(after_seconds=86400, to=Role.OFFICIAL_IN_CHARGE),
        EscalationStep(after_seconds=2 * 86400, to=Role.STEERING_OFFICE),
    ],
    acknowledge_within_seconds=86400,
)


async def record(out: Path) -> list[Path]:
    scratch = Path(tempfile.mkdtemp(prefix="histories-"))
    url = f"sqlite:///{scratch / 'axis.db'}"
    upgrade(url)
    engine = make_engine(url)
    load_communes(engine)
    import_roster(engine, DEMO_ROSTER, demo=True)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    written: list[Path] = []
    try:
        t0 = await env.get_current_time()
        communes = [REWORKED, EXTENDED, ESCALATED, RECALLED]
        request = store_directive(engine, communes, t0, POLICY, deadline=t0 + 5 * DAY)
        queue = f"histories-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(ACTIVITY_THREADS) as pool:
            async with running_worker(env.client, engine, queue, pool):
                directive = await issue(env, request, queue)

                def handle(code: str):
                    return env.client.get_workflow_handle(
                        assignment_workflow_id(request.directive_id, code)
                    )

                leader, office = "commune_leader:demo", "steering_office:demo"
                await handle(REWORKED).execute_update(
                    AssignmentWorkflow.acknowledge, AcknowledgeInput(leader)
                )
                await handle(REWORKED).execute_update(
                    AssignmentWorkflow.report, ReportInput(leader, "Bản đầu", ["v1.pdf"])
                )
                await handle(REWORKED).execute_update(
                    AssignmentWorkflow.review, ReviewInput(office, False, "Thiếu số liệu")
                )
                await handle(RECALLED).execute_update(
                    AssignmentWorkflow.acknowledge, AcknowledgeInput(leader)
                )
                await handle(EXTENDED).execute_update(
                    AssignmentWorkflow.request_extension,
                    ExtensionRequestInput(leader, t0 + 8 * DAY, "Chờ số liệu"),
                )
                await handle(EXTENDED).execute_update(
                    AssignmentWorkflow.decide_extension, ExtensionDecisionInput(office, True)
                )
                await directive.execute_update(
                    DirectiveWorkflow.amend, AmendDirectiveInput(office, body="Nội dung bổ sung")
                )
                # A little past day 6, not on it: the first rung's timer falls due at day 6, and
                # the time-skipping server fails the task of an update that arrives in the same
                # instant as a timer firing ("invalid history builder state for action").
                await advance_to(env, t0 + 6.1 * DAY)
                await handle(REWORKED).execute_update(
                    AssignmentWorkflow.report, ReportInput(leader, "Bản sửa", ["v2.pdf"])
                )
                await handle(REWORKED).execute_update(
                    AssignmentWorkflow.review, ReviewInput(office, True)
                )
                await advance_to(env, t0 + 7.5 * DAY)
                await handle(EXTENDED).execute_update(
                    AssignmentWorkflow.report, ReportInput(leader, "Đúng hạn gia hạn")
                )
                await handle(EXTENDED).execute_update(
                    AssignmentWorkflow.review, ReviewInput(office, True)
                )
                await directive.execute_update(
                    DirectiveWorkflow.recall, RecallDirectiveInput(office, "Thay bằng văn bản mới")
                )
                await directive.result()
                for workflow_id, name in zip(
                    [
                        directive.id,
                        handle(REWORKED).id,
                        handle(EXTENDED).id,
                        handle(ESCALATED).id,
                        handle(RECALLED).id,
                    ],
                    NAMES,
                    strict=True,
                ):
                    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
                    written.append(write(out, name, history))
                written.append(await record_obligation_period(env, engine, queue, out))
    finally:
        await env.shutdown()
        engine.dispose()
    return written


async def record_obligation_period(
    env: WorkflowEnvironment, engine: Engine, queue: str, out: Path
) -> Path:
    """A week of a recurring obligation: opened for the communes, one met, closed."""
    with Session(engine) as session, session.begin():
        recurring = RecurringDirective(
            title="Hai hoạt động chuyển đổi số mỗi tuần", body="Báo cáo hằng tuần.",
            required_count=2, communes=[REWORKED, EXTENDED], skip_holidays=True,
            status="active", created_by="steering_office:demo",
        )  # fmt: skip
        session.add(recurring)
        session.flush()
        recurring_id = recurring.id
    handle = await env.client.start_workflow(
        ObligationPeriodWorkflow.run,
        ObligationPeriodInput(recurring_id=recurring_id),
        id=f"recurring-{recurring_id}-period-recorded",
        task_queue=queue,
    )
    await advance_to(env, await env.get_current_time() + 8 * DAY)
    await handle.result()
    return write(out, OBLIGATION_NAME, await handle.fetch_history())


async def record_continued_directive(out: Path) -> list[Path]:
    """A directive to six communes on the dev server told to suggest continuing as new early:
    its first run continues as new after an amendment, a later run closes once every commune
    has been accepted. The suggestion is in the history, so the runs replay as recorded."""
    scratch = Path(tempfile.mkdtemp(prefix="histories-"))
    url = f"sqlite:///{scratch / 'axis.db'}"
    upgrade(url)
    engine = make_engine(url)
    load_communes(engine)
    import_roster(engine, DEMO_ROSTER, demo=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AFTER_EVENTS}",
        ],
    )
    try:
        t0 = await env.get_current_time()
        communes = [c.code for c in communes_of_province()][:6]
        request = store_directive(engine, communes, t0, DirectivePolicy(), deadline=t0 + 5 * DAY)
        queue = f"histories-{uuid.uuid4().hex[:8]}"
        office, leader = "steering_office:demo", "commune_leader:demo"
        with ThreadPoolExecutor(ACTIVITY_THREADS) as pool:
            async with running_worker(env.client, engine, queue, pool):
                directive = await issue(env, request, queue)
                await directive.execute_update(
                    DirectiveWorkflow.amend, AmendDirectiveInput(office, body="Bổ sung")
                )
                for code in communes:
                    assignment = env.client.get_workflow_handle(
                        assignment_workflow_id(request.directive_id, code)
                    )
                    await assignment.execute_update(
                        AssignmentWorkflow.report, ReportInput(leader, "Xong")
                    )
                    await assignment.execute_update(
                        AssignmentWorkflow.review, ReviewInput(office, True)
                    )
                await env.client.get_workflow_handle(directive.id).result()
                first = env.client.get_workflow_handle(
                    directive.id, run_id=directive.first_execution_run_id
                )
                histories = [
                    await first.fetch_history(),
                    await env.client.get_workflow_handle(directive.id).fetch_history(),
                ]
    finally:
        await env.shutdown()
        engine.dispose()
    started = histories[1].events[0].workflow_execution_started_event_attributes
    assert (
        histories[0].events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    ), "the first run did not continue as new"
    assert started.continued_execution_run_id, "the last run was not continued"
    return [write(out, n, h) for n, h in zip(CONTINUED_NAMES, histories, strict=True)]


async def record_delivery(out: Path) -> list[Path]:
    """Delivery's paths: sent after a temporary failure, a permanent failure that falls back
    and one that ends in a dead letter, and a night's reminders gathered into a digest."""
    from collections import deque

    from activities.delivery import delivery_config
    from activities.notifications import NotificationActivities
    from activities.records import RecordActivities
    from activities.rendering import Renderer
    from config import Settings
    from tests.conftest import PUBLIC_URL
    from tests.gateways import BRANDNAME, http_gateway, smtp_server
    from vocabulary.delivery import delivery_workflow_id, digest_workflow_id
    from vocabulary.directives import NotificationKind
    from workflows.types import NotifyInput

    scratch = Path(tempfile.mkdtemp(prefix="histories-"))
    url = f"sqlite:///{scratch / 'axis.db'}"
    upgrade(url)
    engine = make_engine(url)
    load_communes(engine)
    import_roster(engine, DEMO_ROSTER, demo=True)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    written: list[Path] = []
    try:
        async with smtp_server() as smtp, http_gateway() as gateway:
            queue = f"histories-{uuid.uuid4().hex[:8]}"
            settings = Settings(
                data_dir=scratch,
                link_keys="histories",
                quiet_hours="21:00-07:00",
                smtp_host=smtp.host,
                smtp_port=smtp.port,
                smtp_starttls=False,
                esms_base_url=gateway.base_url,
                esms_api_key="esms-key",
                esms_secret_key="s",
                esms_brandname=BRANDNAME,
            )
            config = delivery_config(settings, queue)
            notifications = NotificationActivities(
                engine, Renderer(), PUBLIC_URL, env.client, config
            )
            # Noon in Vietnam: outside quiet hours.
            t0 = await env.get_current_time()
            noon = (t0 + DAY).replace(hour=5, minute=0, second=0, microsecond=0)
            await advance_to(env, noon)
            with ThreadPoolExecutor(ACTIVITY_THREADS) as pool:
                async with running_worker(env.client, engine, queue, pool, delivery=config):
                    retried, fallback = REWORKED, EXTENDED
                    gateway.scripted.append((429, {"Retry-After": "60"}, {}))
                    request = store_directive(
                        engine, [retried, fallback], noon, POLICY, deadline=noon + 5 * DAY
                    )
                    RecordActivities(engine).plan_directive(request)
                    await notifications.record_notifications(
                        NotifyInput(request.directive_id, [retried], NotificationKind.ISSUED, "r")
                    )
                    await advance_to(env, noon + DAY / 24)
                    # sms refused permanently for the second commune: fallback to email
                    gateway.scripted.append((200, {}, {"CodeResult": "108"}))
                    await notifications.record_notifications(
                        NotifyInput(request.directive_id, [fallback], NotificationKind.ISSUED, "r")
                    )
                    await advance_to(env, noon + DAY / 12)
                    # a dead letter: every channel of the leader refuses
                    dead = ESCALATED
                    gateway.scripted.append((200, {}, {"CodeResult": "108"}))
                    smtp.fail_first[f"lanh-dao-{dead}@example.invalid"] = deque(["550 5.1.1 no"])
                    await notifications.record_notifications(
                        NotifyInput(request.directive_id, [dead], NotificationKind.ISSUED, "r")
                    )
                    await advance_to(env, noon + DAY / 8)
                    # the night: two reminders gathered into the 07:00 digest
                    night = noon + DAY / 2  # 00:00 in Vietnam
                    await advance_to(env, night)
                    for step in ("a", "b"):
                        await notifications.record_notifications(
                            NotifyInput(
                                request.directive_id,
                                [RECALLED],
                                NotificationKind.REMINDER,
                                step,
                                context={"reason": "deadline", "offset_seconds": "86400"},
                            )
                        )
                    await advance_to(env, night + DAY / 3)

                    def key(code: str, kind: str, step: str) -> str:
                        from sqlalchemy import select
                        from sqlalchemy.orm import Session

                        from db.models import Notification

                        with Session(engine) as session:
                            found = session.scalar(
                                select(Notification.idempotency_key).where(
                                    Notification.directive_id == request.directive_id,
                                    Notification.commune_code == code,
                                    Notification.kind == kind,
                                    Notification.step == step,
                                )
                            )
                        assert found is not None
                        return found

                    reminder = key(RECALLED, "reminder", "a")
                    person = reminder.rsplit(":", 1)[1]
                    date = (night + DAY / 3).astimezone(VIETNAM_TZ).date().isoformat()
                    for workflow_id, name in [
                        (
                            delivery_workflow_id(key(retried, "issued", "r")),
                            "delivery-retried-sent",
                        ),
                        (
                            delivery_workflow_id(key(fallback, "issued", "r")),
                            "delivery-fallback-sent",
                        ),
                        (delivery_workflow_id(key(dead, "issued", "r")), "delivery-dead-lettered"),
                        (delivery_workflow_id(reminder), "delivery-in-digest"),
                        (digest_workflow_id(f"digest:{person}:{date}"), "digest-sent"),
                    ]:
                        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
                        written.append(write(out, name, history))
    finally:
        await env.shutdown()
        engine.dispose()
    return written


@asynccontextmanager
async def time_skipping_scratch() -> AsyncIterator[tuple[WorkflowEnvironment, Engine, Path]]:
    """A time-skipping server of its own and a scratch SQLite database with the communes and
    the demo roster, and the database's folder."""
    scratch = Path(tempfile.mkdtemp(prefix="histories-"))
    url = f"sqlite:///{scratch / 'axis.db'}"
    upgrade(url)
    engine = make_engine(url)
    load_communes(engine)
    import_roster(engine, DEMO_ROSTER, demo=True)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        yield env, engine, scratch
    finally:
        await env.shutdown()
        engine.dispose()


async def record_caught_up(out: Path) -> list[Path]:
    """An assignment whose worker was down while three reminders, the deadline and the first
    escalation fell due: back, it sends the latest reminder only, records the skip, escalates,
    and is acknowledged (tests/workflows/test_missed_reminders.py's outage)."""
    from tests.workflows.test_missed_reminders import catch_up_after_an_outage

    async with time_skipping_scratch() as (env, engine, _):
        queue = f"histories-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(ACTIVITY_THREADS) as pool:
            *_, asked, history = await catch_up_after_an_outage(env, engine, queue, pool)
    assert asked == ["offset86400s-d1", "level-1"], f"not caught up as expected: {asked}"
    return [write(out, CAUGHT_UP_NAME, history)]


async def record_extension_outlasting_amendment(out: Path) -> list[Path]:
    """An extension to day 20 granted, then the directive's deadline amended to day 10: the
    extension stands, and the report accepted on day 15 is on time."""
    from tests.workflows.test_deadline_direction import amend_deadline, relayed

    async with time_skipping_scratch() as (env, engine, _):
        t0 = await env.get_current_time()
        policy = DirectivePolicy(reminder_offsets_seconds=[86400], escalation=[])
        request = store_directive(engine, [EXTENDED], t0, policy, deadline=t0 + 7 * DAY)
        queue = f"histories-{uuid.uuid4().hex[:8]}"
        leader, office = "commune_leader:demo", "steering_office:demo"
        with ThreadPoolExecutor(ACTIVITY_THREADS) as pool:
            async with running_worker(env.client, engine, queue, pool):
                directive = await issue(env, request, queue)
                handle = env.client.get_workflow_handle(
                    assignment_workflow_id(request.directive_id, EXTENDED)
                )
                await handle.execute_update(
                    AssignmentWorkflow.request_extension,
                    ExtensionRequestInput(leader, t0 + 20 * DAY, "Mưa lũ"),
                )
                await handle.execute_update(
                    AssignmentWorkflow.decide_extension, ExtensionDecisionInput(office, True)
                )
                amended = await relayed(handle, await amend_deadline(directive, t0 + 10 * DAY))
                assert amended.deadline == t0 + 20 * DAY, "the amendment took the extension back"
                await advance_to(env, t0 + 15 * DAY)
                await handle.execute_update(
                    AssignmentWorkflow.report, ReportInput(leader, "Trong hạn gia hạn")
                )
                await handle.execute_update(AssignmentWorkflow.review, ReviewInput(office, True))
                await handle.result()
                history = await handle.fetch_history()
    return [write(out, OUTLASTING_NAME, history)]


async def record_quiet_retry(out: Path) -> list[Path]:
    """A reminder sent at 20:50 (Vietnam time) and told by the provider to come back in 30
    minutes: the retry waits for the end of quiet hours (tests/workflows/test_quiet_retries.py)."""
    from tests.gateways import http_gateway
    from tests.workflows.test_quiet_retries import deliver_at_ten_to_nine, local, sends
    from vocabulary.delivery import delivery_workflow_id
    from vocabulary.directives import NotificationKind

    async with time_skipping_scratch() as (env, engine, scratch), http_gateway() as gateway:
        queue = f"histories-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(ACTIVITY_THREADS) as pool:
            evening, key = await deliver_at_ten_to_nine(
                env, engine, gateway, queue, pool, scratch, NotificationKind.REMINDER, 0
            )
        _, retry = await sends(env, key)
        history = await env.client.get_workflow_handle(delivery_workflow_id(key)).fetch_history()
    seven_next_morning = evening.replace(hour=7, minute=0) + DAY
    assert local(retry.at) == local(seven_next_morning), f"retried at {local(retry.at)}"
    return [write(out, QUIET_RETRY_NAME, history)]


async def record_late_digest_join(out: Path) -> list[Path]:
    """A night's digest whose first send is answered "later", and a message whose join reaches
    it only then: told it is too late, the message joins the digest's second round through the
    update that starts it (tests/workflows/test_digest_joins.py). Records the second round."""
    from collections import deque

    from tests.gateways import smtp_server
    from tests.workflows.helpers import advance_to
    from tests.workflows.test_delivery import configure, leader_emails
    from tests.workflows.test_delivery import record as record_messages
    from tests.workflows.test_digest_joins import delivery_worker, next_local
    from vocabulary.delivery import delivery_workflow_id, digest_workflow_id
    from vocabulary.directives import NotificationKind
    from workflows.delivery import DigestWorkflow
    from workflows.delivery_types import JoinDigestInput

    # The late message's joins fail on purpose until the digest has sent: not worth a warning.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    async with time_skipping_scratch() as (env, engine, scratch), smtp_server() as smtp:
        queue = f"histories-{uuid.uuid4().hex[:8]}"
        (leader,) = leader_emails(engine, [RECALLED])
        smtp.fail_first[leader] = deque(["451 4.3.0 Try again later"])
        config = configure(scratch, queue, smtp=smtp, quiet_hours="21:00-07:00")
        await advance_to(env, await next_local(env, 22))
        seven_am = await next_local(env, 7)
        late: list[str] = []

        def joins_after_the_digest_took_its_items(request: JoinDigestInput) -> bool:
            return request.item.notification_key in late and smtp.attempts[leader] == 0

        with ThreadPoolExecutor(ACTIVITY_THREADS) as pool:
            async with delivery_worker(
                env, engine, config, pool, joins_after_the_digest_took_its_items
            ):
                remind = NotificationKind.REMINDER
                (early,) = await record_messages(env, engine, config, [RECALLED], remind)
                await env.client.get_workflow_handle(delivery_workflow_id(early)).result()
                await advance_to(env, seven_am - timedelta(seconds=30))
                late += await record_messages(env, engine, config, [RECALLED], remind)
                await advance_to(env, seven_am + timedelta(minutes=5))
                await env.client.get_workflow_handle(delivery_workflow_id(late[0])).result()
                person = recipient(engine, early)
                night = f"digest:{person}:{seven_am.date().isoformat()}"
                second = env.client.get_workflow_handle(digest_workflow_id(f"{night}:2"))
                await second.result()
                items = await second.query(DigestWorkflow.items)
                history = await second.fetch_history()
    assert items == late, f"the late message is not in the second round: {items}"
    return [write(out, LATE_DIGEST_NAME, history)]


def recipient(engine: Engine, key: str) -> int:
    """The person a message is delivered to."""
    from sqlalchemy import select

    from db.models import Delivery

    with Session(engine) as session:
        person = session.scalar(select(Delivery.person_id).where(Delivery.notification_key == key))
    assert person is not None
    return person


RECORDERS = (
    record,
    record_caught_up,
    record_extension_outlasting_amendment,
    record_continued_directive,
    record_delivery,
    record_quiet_retry,
    record_late_digest_join,
)


if __name__ == "__main__":
    folder = version_folder(sys.argv[1] if len(sys.argv) > 1 else None)
    claim(folder, EVERY_NAME)
    for recorder in RECORDERS:
        for path in asyncio.run(recorder(folder)):
            sys.stdout.write(f"wrote {path}\n")
