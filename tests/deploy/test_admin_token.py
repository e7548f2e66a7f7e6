"""The steering office's token: one shorter than 32 characters stops every process outside
demo mode, and the token is printed only in demo mode."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from config import ADMIN_TOKEN_MIN_CHARS, InsecureSetting, Settings
from run import admin_token, where_the_token_is
from tests.deploy.image import ROOT

SHORT = "newcomer-check-token"  # 20 characters, as the shared newcomer check sets it
LONG = "k" * ADMIN_TOKEN_MIN_CHARS
REFUSAL = (
    "AXIS_ADMIN_TOKEN has 20 characters; at least 32 are needed (make one with: "
    "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


def production_env(tmp_path: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
    env.update(
        AXIS_DATA_DIR=str(tmp_path),
        AXIS_ADMIN_TOKEN=token,
        AXIS_LOAD_DEMO_ROSTER="false",
        AXIS_TEMPORAL_ADDRESS="127.0.0.1:9",
    )
    return env


def test_a_short_admin_token_is_refused_outside_demo_mode(tmp_path: Path) -> None:
    with pytest.raises(InsecureSetting) as refused:
        Settings(admin_token=SHORT, load_demo_roster=False)
    assert str(refused.value) == REFUSAL
    # A roster of the province's own is production too, whatever load_demo_roster says.
    with pytest.raises(InsecureSetting):
        Settings(admin_token=SHORT, roster_csv=tmp_path / "people.csv")
    assert Settings(admin_token=LONG, load_demo_roster=False).admin_token == LONG
    assert Settings(admin_token=None, load_demo_roster=False).admin_token is None


def test_demo_mode_warns_about_a_short_admin_token_and_starts() -> None:
    with pytest.warns(UserWarning) as warned:
        settings = Settings(admin_token=SHORT)
    assert settings.admin_token == SHORT
    assert [str(w.message) for w in warned] == [f"{REFUSAL}; accepted in demo mode only"]


def test_the_api_process_refuses_a_short_admin_token(tmp_path: Path) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app:app", "--port", "1"],
        cwd=ROOT,
        env=production_env(tmp_path, SHORT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 1
    assert f"config.InsecureSetting: {REFUSAL}" in answer.stderr
    assert SHORT not in answer.stdout + answer.stderr


def test_run_refuses_a_short_admin_token(tmp_path: Path) -> None:
    answer = subprocess.run(
        [sys.executable, "run.py"],
        cwd=ROOT,
        env=production_env(tmp_path, SHORT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 2
    assert answer.stdout == f"axis: not starting: {REFUSAL}\n"
    assert SHORT not in answer.stderr
    assert os.listdir(tmp_path) == []


def test_run_prints_the_token_in_demo_mode_only(tmp_path: Path) -> None:
    demo = Settings(data_dir=tmp_path, admin_token=LONG)
    assert where_the_token_is(demo, LONG) == f"steering office token: {LONG}"
    from_env = Settings(data_dir=tmp_path, admin_token=LONG, load_demo_roster=False)
    assert where_the_token_is(from_env, LONG) == (
        "steering office token: the one in AXIS_ADMIN_TOKEN"
    )
    kept = Settings(data_dir=tmp_path, load_demo_roster=False)
    token = admin_token(kept)
    assert where_the_token_is(kept, token) == (
        f"steering office token: kept in {tmp_path / 'admin-token'}"
    )


def test_the_made_admin_token_is_long_private_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, load_demo_roster=False)
    token = admin_token(settings)
    assert token.startswith("axis_")
    assert len(token) == 48
    assert stat.S_IMODE((tmp_path / "admin-token").stat().st_mode) == 0o600
    assert admin_token(settings) == token
    assert os.listdir(tmp_path) == ["admin-token"]
