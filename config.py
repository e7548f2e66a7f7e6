"""Settings for every process of the product, read from `AXIS_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Working days a commune has to answer a feedback.
    feedback_answer_working_days: int = 10
    # Open311: the jurisdiction_id this endpoint answers for, and the api_keys a POST must
    # carry (comma-separated); unset accepts POSTs without a key, as the public form does.
    open311_jurisdiction: str = "daklak.gov.vn"
    open311_api_keys: str | None = None
    # The pages: the key that signs session cookies (unset: one made once and kept under
    # data_dir), how long a sign-in lasts, and the evidence a commune may upload.
    session_secret: str | None = None
    session_hours: int = 12
    max_upload_bytes: int = 5 * 1024 * 1024
    max_upload_files: int = 5
    # Wrong passwords allowed per address and username within the window (then 429).
    login_max_failures: int = 10
    login_window_seconds: int = 900

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'axis.db').resolve()}"

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
