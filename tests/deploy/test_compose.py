"""The compose file runs the product in production: one image for every app service, demo off,
only the load balancer reachable from outside, and no secret written in the file itself, every
one coming from the operator's env file, whose example names each."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.image import ROOT

APP_SERVICES = ["migrate", "api", "worker"]
SECRET_NAME = re.compile(r"PASSWORD|PWD|TOKEN|SECRET|KEY", re.IGNORECASE)
# ${VAR} or ${VAR:?message}: a value from the env file, never a default written here.
FROM_ENV = re.compile(r"^\$\{([A-Z][A-Z0-9_]*)(:?\?[^}]*)?\}$")
REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")
URL_PASSWORD = re.compile(r"://[^:/@]+:([^@]+)@")
# Every secret the product reads, each documented in deploy.env.example.
SECRETS = {
    "POSTGRES_PASSWORD",
    "AXIS_ADMIN_TOKEN",
    "AXIS_SESSION_SECRET",
    "AXIS_LINK_KEYS",
    "AXIS_SMTP_PASSWORD",
    "AXIS_ZNS_SECRET_KEY",
    "AXIS_ZNS_REFRESH_TOKEN",
    "AXIS_ESMS_API_KEY",
    "AXIS_ESMS_SECRET_KEY",
    "AXIS_ESMS_CALLBACK_SECRET",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def example() -> dict[str, str]:
    """NAME=value lines of deploy.env.example, commented-out ones included."""
    found: dict[str, str] = {}
    for line in (ROOT / "deploy.env.example").read_text().splitlines():
        match = re.match(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match[1]] = match[2]
    return found


def test_only_the_load_balancer_publishes_a_port(compose: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    assert published == {"lb": ["8000:8000"]}
    # The UI is not started by `up`: an operator runs it, on loopback, when needed.
    assert compose["services"]["temporal-ui"]["profiles"] == ["operator"]


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    written = []
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and not FROM_ENV.match(value):
                written.append(f"{name}.{key}")
            for password in URL_PASSWORD.findall(value):
                if not FROM_ENV.match(password):
                    written.append(f"{name}.{key} (URL)")
    assert written == []
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.findall(r"PASSWORD: axis|PWD: axis|:axis@", text) == []


def test_every_secret_comes_from_the_env_file_and_the_example_documents_it(
    compose: dict[str, Any],
) -> None:
    for name in APP_SERVICES:
        assert compose["services"][name]["env_file"] == ".env"
    documented = example()
    referenced = set(REFERENCE.findall((ROOT / "docker-compose.yml").read_text()))
    assert referenced == {
        "AXIS_NETWORK_SUBNET",
        "POSTGRES_PASSWORD",
        "AXIS_PUBLIC_URL",
        "AXIS_ADMIN_TOKEN",
    }
    assert referenced <= documented.keys()
    assert documented.keys() >= SECRETS
    # Placeholders only: every secret is empty in the example.
    assert {k: v for k, v in documented.items() if k in SECRETS and v} == {}


def test_the_app_services_run_one_image_with_demo_off(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {services[n]["image"] for n in APP_SERVICES} == {"steering-axis:latest"}
    assert {services[n]["build"] for n in APP_SERVICES} == {"."}
    assert [environment(services[n])["AXIS_LOAD_DEMO_ROSTER"] for n in APP_SERVICES] == [
        "false"
    ] * 3
    assert services["migrate"]["command"] == ["python", "-m", "db.migrate"]
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert "command" not in services["api"]  # the image's CMD: uvicorn api.main:app


def test_the_api_trusts_the_load_balancer_network_only(compose: dict[str, Any]) -> None:
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert subnet == "${AXIS_NETWORK_SUBNET:-172.31.240.0/24}"
    assert environment(compose["services"]["api"])["AXIS_TRUSTED_PROXIES"] == subnet
    nginx = compose["configs"]["lb-conf"]["content"]
    assert "proxy_set_header X-Forwarded-For $$proxy_add_x_forwarded_for;" in nginx
    assert "proxy_set_header X-Real-IP $$remote_addr;" in nginx


def test_the_load_balancer_logs_no_secret_from_a_path(compose: dict[str, Any]) -> None:
    # Checked against nginx 1.22 by hand: GET /a/<token> is logged as "GET /a/-redacted-".
    nginx = compose["configs"]["lb-conf"]["content"]
    assert (
        "~^(?<secret_path>/a/|/setup/|/api/v1/callbacks/esms/)  $${secret_path}-redacted-;"
    ) in nginx
    assert "access_log /var/log/nginx/access.log redacted;" in nginx
    assert "$$request_uri" not in nginx.split("log_format", 1)[1]
