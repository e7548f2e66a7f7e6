"""The production image holds everything its three commands need, proved without Docker: the
files the Dockerfile copies are assembled into an empty folder, and the migrations, the API and
the worker start from there with the repository off the import path (its editable install
included). Any product module or file read from the repository instead fails the test."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.stack import TEMPORAL_CLI, free_port, stop, wait_for_http, wait_for_port
from tests.deploy.image import ROOT, assemble

GUARD = Path(__file__).with_name("guard.py")
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
ADMIN_TOKEN = "image-test-" + "x" * 32
START_SECONDS = 90
# Product packages each command must load from the image: the ones the old Dockerfile left out
# (web, scoring) are among them.
API_MODULES = {"app", "api.main", "web.app", "web.login", "scoring.rules", "config", "db.engine"}
WORKER_MODULES = {"config", "activities.delivery", "activities.records", "workflows.directive"}
MIGRATE_MODULES = {"config", "db.engine", "services.accounts"}


@dataclass
class Image:
    folder: Path
    logs: Path
    env: dict[str, str]

    def start(self, name: str, target: str, *arguments: str) -> subprocess.Popen[bytes]:
        report = self.logs / f"{name}.report"
        report.unlink(missing_ok=True)
        command = [sys.executable, "-S", str(GUARD), str(report), str(self.folder), str(ROOT)]
        command += [SITE_PACKAGES, "--", target, *arguments]
        return subprocess.Popen(
            command,
            cwd=self.folder,
            env=self.env,
            stdout=(self.logs / f"{name}.out").open("wb"),
            stderr=(self.logs / f"{name}.err").open("wb"),
        )

    def report(self, name: str) -> list[str]:
        return (self.logs / f"{name}.report").read_text().splitlines()

    def output(self, name: str) -> str:
        return (self.logs / f"{name}.out").read_text() + (self.logs / f"{name}.err").read_text()


def outside(report: list[str]) -> list[str]:
    fine = ("imported-image ", "main ")
    return [line for line in report if not line.startswith(fine) and line != "exit"]


def main_file(report: list[str]) -> str:
    return next(line.split()[2] for line in report if line.startswith("main "))


def loaded(report: list[str]) -> set[str]:
    return {line.split()[1] for line in report if line.startswith("imported-image ")}


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    command = [
        str(TEMPORAL_CLI), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
        "--port", str(port), "--http-port", str(free_port()),
        "--metrics-port", str(free_port()), "--log-level", "error",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, "the Temporal dev server")
        yield f"127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, temporal: str) -> Image:
    folder = tmp_path_factory.mktemp("image")
    logs = tmp_path_factory.mktemp("image-logs")
    data = tmp_path_factory.mktemp("image-data")
    assemble(folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AXIS_", "PYTHON"))}
    env.update(
        PYTHONNOUSERSITE="1",
        PYTHONDONTWRITEBYTECODE="1",
        AXIS_DATA_DIR=str(data),
        AXIS_DATABASE_URL=f"sqlite:///{data / 'axis.db'}",
        AXIS_TEMPORAL_ADDRESS=temporal,
        AXIS_ADMIN_TOKEN=ADMIN_TOKEN,
        AXIS_LOAD_DEMO_ROSTER="false",
        AXIS_TASK_QUEUE="image-test",
    )
    return Image(folder, logs, env)


@pytest.fixture(scope="module")
def migrated(image: Image) -> list[str]:
    process = image.start("migrate", "migrate")
    code = process.wait(START_SECONDS)
    assert code == 0, image.output("migrate")
    assert "database ready" in image.output("migrate")
    return image.report("migrate")


def test_the_image_holds_every_package_the_product_installs(image: Image) -> None:
    packages = ["api", "activities", "db", "scoring", "templates", "web", "workflows"]
    missing = [p for p in packages if not (image.folder / p).is_dir()]
    missing += [m for m in ("config.py", "worker.py") if not (image.folder / m).is_file()]
    assert missing == []
    assert (image.folder / "scoring" / "rules").is_dir()
    assert not (image.folder / ".venv").exists()
    assert not (image.folder / ".git").exists()
    assert not (image.folder / "tests").exists()


def test_migrations_run_from_the_image(image: Image, migrated: list[str]) -> None:
    assert outside(migrated) == []
    assert migrated[-1] == "exit"
    assert loaded(migrated) >= MIGRATE_MODULES
    assert main_file(migrated) == str(image.folder / "migrate.py")


def test_api_serves_from_the_image(image: Image, migrated: list[str]) -> None:
    port = free_port()
    process = image.start("api", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", process, "the API")
        health = httpx.get(f"{base}/healthz", timeout=10)
        communes = httpx.get(
            f"{base}/api/v1/communes",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        login = httpx.get(f"{base}/login", timeout=10)
    finally:
        stop(process)
    assert health.json() == {"status": "ok", "database": "ok", "temporal": "ok"}
    assert communes.status_code == 200
    assert communes.json()["count"] == 102
    assert login.status_code == 200
    assert "<form" in login.text
    assert process.returncode == 0, image.output("api")
    report = image.report("api")
    assert outside(report) == []
    assert report[-1] == "exit"
    assert loaded(report) >= API_MODULES


def test_worker_starts_from_the_image(image: Image, migrated: list[str]) -> None:
    process = image.start("worker", "worker.py")
    try:
        deadline = time.monotonic() + START_SECONDS
        # The worker logs this once both its Temporal workers are built and polling.
        while "worker on task queues" not in image.output("worker"):
            assert process.poll() is None, image.output("worker")
            assert time.monotonic() < deadline, image.output("worker")
            time.sleep(0.2)
    finally:
        stop(process, grace=30)
    assert process.returncode == 0, image.output("worker")
    report = image.report("worker")
    assert outside(report) == []
    assert report[-1] == "exit"
    assert loaded(report) >= WORKER_MODULES
    assert main_file(report) == str(image.folder / "worker.py")


def test_the_guard_names_a_module_read_from_the_repository(image: Image) -> None:
    # A command that reaches past the image into the repository (bench/ stays out of it).
    script = image.folder / "leak_check.py"
    script.write_text(f"import sys\nsys.path.append({str(ROOT)!r})\nimport bench.stack\n")
    try:
        process = image.start("leak", "leak_check.py")
        assert process.wait(START_SECONDS) == 0, image.output("leak")
    finally:
        script.unlink()
    report = image.report("leak")
    assert f"imported-outside bench {ROOT / 'bench' / '__init__.py'}" in report
    assert f"opened-outside {ROOT / 'bench' / 'stack.py'}" in report
