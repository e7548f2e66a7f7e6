"""Settings for every process of the product, read from `AXIS_*` environment variables."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The steering office's token opens everything: as long as the 43 characters of
# secrets.token_urlsafe(32), give or take, and never a word someone could guess.
ADMIN_TOKEN_MIN_CHARS = 32


# A worker process serves two task queues, the workflows' and delivery's (worker.py).
WORKER_TASK_QUEUES = 2
# Threads beyond one per activity: the delivery sweep reads the outbox in one.
SWEEP_THREADS = 1
DEFAULT_ACTIVITY_CONCURRENCY = 16


@dataclass(frozen=True)
class WorkerCapacity:
    """What one worker process runs at once, sized together from one setting so that no
    activity waits inside the worker, for a thread or for a database connection: an activity
    that waits there spends its start-to-close timeout (30 s for a record) waiting, times out
    and runs again, adding to the very burst that made it wait. Past the capacity, activities
    wait on the Temporal server, where no timeout runs until a worker takes them."""

    activities_per_queue: int

    @property
    def threads(self) -> int:
        """Every activity of both task queues at once (a synchronous one runs in a thread, an
        asynchronous one does its database work in one, `asyncio.to_thread`), and the sweep."""
        return WORKER_TASK_QUEUES * self.activities_per_queue + SWEEP_THREADS

    @property
    def database_connections(self) -> int:
        """One per thread: every database call of the worker runs in one of its threads, and a
        thread holds one session at a time."""
        return self.threads


class InsecureSetting(Exception):
    """A setting that would leave the installation open; the process does not start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AXIS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./var")
    # Unset: a SQLite file under data_dir.
    database_url: str | None = None
    # Unset: `make run` starts the embedded Temporal dev server on temporal_port.
    temporal_address: str | None = None
    temporal_port: int = 7233
    temporal_namespace: str = "default"
    task_queue: str = "steering-axis"
    admin_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    # Bodies above this are refused with 413 long before Temporal's 2 MiB payload limit.
    max_body_bytes: int = 64 * 1024
    max_page_size: int = 500
    # How long POST /directives waits for the deadline to be computed before answering.
    issue_wait_seconds: float = 10.0
    # A roster CSV loaded at start when no roster exists yet; unset loads the demo roster
    # (addresses under example.invalid) unless load_demo_roster is off, as in production.
    roster_csv: Path | None = None
    load_demo_roster: bool = True
    # Procedures and feedback. Receipt-code lookups: a client that gets this many wrong codes
    # within the window is refused (429) until the window has passed.
    lookup_max_failures: int = 10
    lookup_window_seconds: int = 600
    # Request rates per window (rate_window_seconds), past which the API answers 429 with
    # Retry-After: token creation per principal, API acknowledgements per principal, and
    # one-click link POSTs per client address. Kept per API process.
    token_rate_limit: int = 300
    ack_rate_limit: int = 30
    link_rate_limit: int = 120
    rate_window_seconds: int = 60
    # Working days a commune has to answer a feedback.
    feedback_answer_working_days: int = 10
    # Open311: the jurisdiction_id this endpoint answers for, and the api_keys a POST must
    # carry (comma-separated); unset accepts POSTs without a key, as the public form does.
    open311_jurisdiction: str = "daklak.gov.vn"
    open311_api_keys: str | None = None
    # Delivery (see activities/delivery/settings.py). A channel without its settings is skipped.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Ban Chi dao <no-reply@axis.invalid>"
    # Unset: STARTTLS when the server offers it; true: required; false: never.
    smtp_starttls: bool | None = None
    zns_base_url: str = "https://business.openapi.zalo.me"
    zns_oauth_url: str = "https://oauth.zaloapp.com"
    zns_app_id: str | None = None
    zns_secret_key: str | None = None
    zns_refresh_token: str | None = None
    # kind=template id pairs, e.g. "issued=643118,reminder=643119"
    zns_templates: str = ""
    esms_base_url: str = "https://rest.esms.vn"
    esms_api_key: str | None = None
    esms_secret_key: str | None = None
    esms_brandname: str = ""
    esms_sandbox: bool = False
    # Hosts and networks (comma-separated names, addresses or CIDR) webhooks may reach although
    # they are not public, e.g. a receiver on the same machine; only they may use plain http.
    webhook_allow_hosts: str = ""
    # A webhook subscription's failed delivery is retried after this many seconds, doubling up
    # to the longest wait, until it has failed for the give-up time; then it pauses.
    webhook_first_retry_seconds: float = Field(default=5.0, gt=0)
    webhook_max_retry_seconds: float = Field(default=3600.0, gt=0)
    webhook_give_up_hours: float = Field(default=24.0, gt=0)
    # Asia/Ho_Chi_Minh, "HH:MM-HH:MM"; empty turns quiet hours off.
    quiet_hours: str = "21:00-07:00"
    # Kinds that wait for the person's digest during quiet hours; the others go out when
    # quiet hours end, one by one.
    digest_kinds: str = "reminder,overdue,returned,extension_decided"
    # When a digest goes out (Vietnam time); defaults to the end of quiet hours.
    digest_time: str | None = None
    # Messages to one person per day at most (escalations are never held back).
    daily_cap: int = 20
    # Signing keys of acknowledgement links, newest first, comma-separated; unset: one is made
    # and kept under data_dir.
    link_keys: str | None = None
    # How long after the deadline a link still works.
    link_grace_days: int = 7
    # The pages: the key that signs session cookies (unset: one made once and kept under
    # data_dir), how long a sign-in lasts, and the evidence a commune may upload.
    session_secret: str | None = None
    session_hours: int = 12
    max_upload_bytes: int = 5 * 1024 * 1024
    max_upload_files: int = 5
    # Wrong passwords allowed per address and username within the window (then 429).
    login_max_failures: int = 10
    login_window_seconds: int = 900
    # Password hashes computed at once per API process (each ~25 ms of CPU and 19 MiB, in a
    # worker thread); a burst of sign-ins waits its turn instead of taking every core.
    password_hash_concurrency: PositiveInt = 2
    # The proxies in front of the API (comma-separated addresses or CIDR networks, e.g. the
    # compose load balancer's network). When the socket peer is one of them, the client is the
    # right-most X-Forwarded-For address that is not: the left-most is whatever the client
    # wrote. Empty: the socket peer is the client and X-Forwarded-For is ignored.
    trusted_proxies: str = ""
    # Anonymous POSTs that start a workflow and email a leader (Open311 requests.json and the
    # /gop-y form): per client address, and over every address, within the window.
    anonymous_post_limit: int = 20
    anonymous_post_total_limit: int = 600
    anonymous_post_window_seconds: int = 3600
    # Wrong passwords for one username from every address together within
    # login_window_seconds: a guesser spread over many addresses still stops.
    login_username_max_failures: int = 30
    # Rate counts are kept in the database and shared by every process with the same
    # namespace: every replica of one deployment uses the default; tests give each app its own.
    rate_count_namespace: str = ""
    # The secret in the CallbackUrl eSMS calls with delivery reports (the path
    # /api/v1/callbacks/esms/<secret>). Unset: derived from the acknowledgement-link keys, which
    # every process of the installation shares, so the worker and the API agree unconfigured.
    esms_callback_secret: str | None = None
    # "text": readable lines (`make run`); "json": one JSON object per line with the request,
    # directive, commune and workflow ids, for a log collector (see logs.py).
    log_format: Literal["text", "json"] = "text"
    # The bearer Prometheus sends to GET /metrics, besides a steering-office token (unset: only
    # the office's tokens read it).
    metrics_token: str | None = None
    # The port on which each worker serves its metrics, the Temporal SDK's among them (unset:
    # none are served).
    worker_metrics_port: int | None = None
    # Activities each of a worker's two task queues runs at once. The worker's threads and its
    # database pool are sized from it (WorkerCapacity; README, "Capacity"): 16 gives 33 threads
    # and at most 33 connections per worker process.
    activity_concurrency: PositiveInt = DEFAULT_ACTIVITY_CONCURRENCY

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'axis.db').resolve()}"

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def worker_capacity(self) -> WorkerCapacity:
        return WorkerCapacity(self.activity_concurrency)

    @property
    def demo_mode(self) -> bool:
        """The embedded demo: the demo roster and its printed sign-ins, no roster of our own."""
        return self.load_demo_roster and self.roster_csv is None

    @model_validator(mode="after")
    def _refuse_a_short_admin_token(self) -> Settings:
        """Every process refuses to start with a guessable steering-office token. Demo mode
        only warns: the shared newcomer check runs `make run` with a 20-character one."""
        token = self.admin_token
        if token is None or len(token) >= ADMIN_TOKEN_MIN_CHARS:
            return self
        message = (
            f"AXIS_ADMIN_TOKEN has {len(token)} characters; at least {ADMIN_TOKEN_MIN_CHARS} "
            "are needed (make one with: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
        if self.demo_mode:
            warnings.warn(f"{message}; accepted in demo mode only", stacklevel=2)
            return self
        # Not a ValueError: pydantic would wrap that in a ValidationError that prints the
        # input, token included.
        raise InsecureSetting(message)


@lru_cache
def get_settings() -> Settings:
    return Settings()
