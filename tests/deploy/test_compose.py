"""The compose file runs the product in production: one image for every app service, demo off,
only the load balancer reachable from outside, and no secret written in the file itself, every
one coming from the operator's env file, whose example names each. Prometheus runs beside it,
scraping every api replica (with the metrics token) and every worker, with the alerts."""

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
    "AXIS_METRICS_TOKEN",
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
    assert services["migrate"]["command"] == ["python", "-m", "migrate"]
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert "command" not in services["api"]  # the image's CMD: uvicorn app:app


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


def test_prometheus_scrapes_every_api_replica_and_every_worker_with_the_alerts(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    prometheus = services["prometheus"]
    assert "ports" not in prometheus  # reached through the operator's tunnel only
    mounted = {c["target"]: compose["configs"][c["source"]]["file"] for c in prometheus["configs"]}
    assert mounted == {
        "/etc/prometheus/prometheus.yml": "./deploy/prometheus/prometheus.yml",
        "/etc/prometheus/alerts.yml": "./deploy/prometheus/alerts.yml",
    }
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((ROOT / mounted["/etc/prometheus/prometheus.yml"]).read_text())
    # Relative to the config file's folder: /etc/prometheus/alerts.yml, the mounted rules.
    assert config["rule_files"] == ["alerts.yml"]

    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"api", "worker"}
    worker_port = int(environment(services["worker"])["AXIS_WORKER_METRICS_PORT"])
    assert worker_port == 9464
    assert [(job["dns_sd_configs"], job["metrics_path"]) for job in jobs.values()] == [
        ([{"names": ["api"], "type": "A", "port": 8000, "refresh_interval": "30s"}], "/metrics"),
        (
            [{"names": ["worker"], "type": "A", "port": worker_port, "refresh_interval": "30s"}],
            "/metrics",
        ),
    ]
    # The api's token comes from the operator's env file as a secret file, never written here.
    assert jobs["api"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/run/secrets/metrics_token",
    }
    assert prometheus["secrets"] == [{"source": "metrics-token", "target": "metrics_token"}]
    assert compose["secrets"] == {"metrics-token": {"environment": "AXIS_METRICS_TOKEN"}}
    assert "AXIS_METRICS_TOKEN" in example()
    assert "authorization" not in jobs["worker"]


def test_only_the_worker_serves_sdk_metrics_and_the_ui_is_the_operators(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert [n for n in APP_SERVICES if "AXIS_WORKER_METRICS_PORT" in environment(services[n])] == [
        "worker"
    ]
    # Everything else the worker needs is the app's environment, unchanged.
    assert environment(services["worker"]) == {
        **environment(services["api"]),
        "AXIS_WORKER_METRICS_PORT": "9464",
    }
    assert services["prometheus-ui"]["profiles"] == ["operator"]
    proxy = compose["configs"]["prometheus-ui-conf"]["content"]
    assert "listen 9090;" in proxy
    assert "proxy_pass http://prometheus:9090;" in proxy


def test_postgresql_admits_every_connection_at_the_documented_scale(
    compose: dict[str, Any],
) -> None:
    """At the scale the file's header shows (3 api, 4 workers), every pool full at once fits
    under PostgreSQL's max_connections: a refused connection in a burst is an activity retried
    or a request failed."""
    from config import DEFAULT_ACTIVITY_CONCURRENCY, WorkerCapacity
    from db.thread_sessions import THREADS

    header = (ROOT / "docker-compose.yml").read_text()
    scale = dict(re.findall(r"--scale (\w+)=(\d+)", header))
    assert scale == {"api": "3", "worker": "4"}
    command = compose["services"]["postgres"]["command"]
    limit = int(command[command.index("-c") + 1].removeprefix("max_connections="))
    worker = WorkerCapacity(DEFAULT_ACTIVITY_CONCURRENCY).database_connections
    api = 10 + 20 + THREADS  # db.engine.make_async_engine's pool, and the thread sessions'
    temporal = 2 * 20  # auto-setup's default pool for each of its two stores
    needed = 4 * worker + 3 * api + temporal
    assert (worker, api, needed) == (33, 36, 280)
    assert limit >= needed
