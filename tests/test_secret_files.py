"""Secret files are created whole and private: a process reading one while another creates it
finds either nothing or the whole file, never an empty one, and the mode is 0600 from the
first instant the name exists."""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import stat
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import secret_files
from activities.channels.zns import ZnsSettings, ZnsTokens
from activities.links import resolve_link_keys
from secret_files import SecretFileError, read_or_create, write_atomically

RACERS = 24


def race(path: Path, start: Any, results: Any) -> None:
    start.wait()
    results.put(read_or_create(path, lambda: secrets.token_urlsafe(32)))


def test_racing_threads_all_read_the_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    start = threading.Barrier(RACERS)
    made: list[str] = []
    seen: list[str] = []

    def make() -> str:
        value = secrets.token_urlsafe(32)
        made.append(value)
        return value

    def run() -> None:
        start.wait()
        seen.append(read_or_create(path, make))

    threads = [threading.Thread(target=run) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == RACERS
    assert len(set(seen)) == 1
    assert seen[0] in made
    assert len(seen[0]) == 43
    assert path.read_text() == seen[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["secret"]


def test_racing_processes_all_read_the_one_winner(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(8)
    results = context.Queue()
    processes = [
        context.Process(target=race, args=(tmp_path / "s", start, results)) for _ in range(8)
    ]
    for p in processes:
        p.start()
    seen = [results.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(60)
        assert p.exitcode == 0
    assert len(set(seen)) == 1
    assert (tmp_path / "s").read_text() == seen[0]
    assert os.listdir(tmp_path) == ["s"]


def test_the_file_is_private_from_the_first_instant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "session-secret"
    at_naming: list[tuple[int, str]] = []
    real_link = os.link

    def link(source: Any, target: Any) -> None:
        real_link(source, target)
        # The first moment the name exists, before read_or_create could chmod anything.
        at_naming.append((stat.S_IMODE(os.stat(target).st_mode), Path(target).read_text()))

    monkeypatch.setattr(secret_files.os, "link", link)
    old_umask = os.umask(0o022)
    try:
        value = read_or_create(path, lambda: "the-secret")
    finally:
        os.umask(old_umask)
    assert value == "the-secret"
    assert at_naming == [(0o600, "the-secret")]
    assert os.listdir(tmp_path) == ["session-secret"]


def test_an_existing_file_is_read_and_never_remade(tmp_path: Path) -> None:
    path = tmp_path / "admin-token"
    path.write_text("axis_kept\n")
    assert read_or_create(path, lambda: pytest.fail("made again")) == "axis_kept"


def test_an_empty_file_is_refused_with_its_remedy(tmp_path: Path) -> None:
    path = tmp_path / "link-keys"
    path.write_text("")
    with pytest.raises(SecretFileError, match="link-keys is empty; delete it"):
        read_or_create(path, lambda: "unused")
    assert path.read_text() == ""


def test_rewriting_replaces_the_whole_file_privately(tmp_path: Path) -> None:
    path = tmp_path / "zns-token.json"
    path.write_text('{"refresh_token": "old"}')
    path.chmod(0o644)
    write_atomically(path, '{"refresh_token": "new"}')
    assert path.read_text() == '{"refresh_token": "new"}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["zns-token.json"]


def test_a_process_reading_link_keys_during_their_creation_gets_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old code created `link-keys` empty and wrote the key after: a second process
    reading in between cached no keys and refused every link until restarted."""
    seen_meanwhile: list[list[str]] = []
    real = secrets.token_urlsafe

    def token_urlsafe(nbytes: int | None = None) -> str:
        if not seen_meanwhile:
            # Another process starts while this one is making the key.
            seen_meanwhile.append([])
            seen_meanwhile[0] = resolve_link_keys(None, tmp_path)
        return real(nbytes)

    monkeypatch.setattr(secrets, "token_urlsafe", token_urlsafe)
    keys = resolve_link_keys(None, tmp_path)
    assert len(keys) == 1
    assert len(keys[0]) == 43
    assert seen_meanwhile == [keys]
    assert resolve_link_keys(None, tmp_path) == keys
    assert stat.S_IMODE((tmp_path / "link-keys").stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["link-keys"]


async def test_the_zns_token_state_is_written_private_and_whole(tmp_path: Path) -> None:
    """The single-use refresh token went to a file written in place with the umask's mode
    (0644 here): readable by every local user, and lost to a crash mid-write."""

    def oauth(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v4/oa/access_token"
        return httpx.Response(
            200, json={"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 90}
        )

    state = tmp_path / "zns-token.json"
    settings = ZnsSettings(
        base_url="https://zns.invalid",
        oauth_url="https://oauth.invalid",
        app_id="app",
        secret_key="zns-secret",
        refresh_token="refresh-1",
        templates={},
        state_file=state,
    )
    old_umask = os.umask(0o022)
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(oauth)) as http:
            assert await ZnsTokens(settings, http).access_token() == "access-2"
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    saved = json.loads(state.read_text())
    assert (saved["access_token"], saved["refresh_token"]) == ("access-2", "refresh-2")
    assert os.listdir(tmp_path) == ["zns-token.json"]
