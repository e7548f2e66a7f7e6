"""The alerting rules in deploy/prometheus: valid for Prometheus and each alert proven by
promtool's own unit tests (a series that fires it, with its exact labels and annotations, and
one that leaves it quiet), and written so an operator can act on them: a `for:`, a severity,
a summary and a description on every alert, on metrics the product exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.image import ROOT

RULES_DIR = ROOT / "deploy" / "prometheus"
ALERTS = RULES_DIR / "alerts.yml"
ALERTS_TEST = RULES_DIR / "alerts_test.yml"
PROMTOOL = shutil.which("promtool")
# CI (.ci/run) sets AXIS_TEST_REQUIRE_PROMTOOL=1: there a missing promtool fails, not skips.
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and os.environ.get("AXIS_TEST_REQUIRE_PROMTOOL") != "1",
    reason="no promtool (make promtool installs Debian's prometheus package)",
)
EXPECTED_ALERTS = {
    "AxisApiDown": "critical",
    "AxisWorkersDown": "critical",
    "AxisWorkflowPollingStopped": "critical",
    "AxisDatabaseDown": "critical",
    "AxisTemporalDown": "critical",
    "AxisTimersLate": "critical",
    "AxisDeadLetters": "warning",
    "AxisQueuedMessageOld": "warning",
    "AxisHighErrorRate": "critical",
}
# The names every part of issue 16 agreed on (README, "Operating it"), and Prometheus' own `up`.
KNOWN_METRICS = {
    "up",
    "axis_http_requests_total",
    "axis_database_up",
    "axis_temporal_up",
    "axis_timers_late_seconds",
    "axis_dead_letters",
    "axis_oldest_queued_message_age_seconds",
    "temporal_workflow_task_queue_poll_succeed",
    "temporal_workflow_task_queue_poll_empty",
}
# A metric name in an expression: ours, the SDK's, or Prometheus' `up` (always with a selector).
METRIC_NAME = re.compile(r"\b((?:axis|temporal)_[a-z_]+|up(?=\{))")


def alert_rules() -> list[dict[str, Any]]:
    loaded: dict[str, Any] = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"] if "alert" in rule]


def run_promtool(*arguments: str, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool is required here (AXIS_TEST_REQUIRE_PROMTOOL=1)"
    return subprocess.run(
        [PROMTOOL, *arguments], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


@needs_promtool
def test_promtool_accepts_the_scrape_config_with_its_rules(tmp_path: Path) -> None:
    # The token file exists only in the container (a compose secret): here, a stand-in.
    token = tmp_path / "metrics_token"
    token.write_text("stand-in")
    config = (RULES_DIR / "prometheus.yml").read_text()
    assert config.count("/run/secrets/metrics_token") == 1
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/run/secrets/metrics_token", str(token))
    )
    (tmp_path / ALERTS.name).write_text(ALERTS.read_text())
    result = run_promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The rule file was found beside the config and checked with it.
    assert " SUCCESS: 9 rules found" in result.stdout


@needs_promtool
def test_every_alert_passes_its_promtool_unit_tests() -> None:
    result = run_promtool("test", "rules", ALERTS_TEST.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_fails_a_rule_that_fires_too_early(tmp_path: Path) -> None:
    # The unit tests can fail: with the timers' threshold at the 5 minutes themselves, the
    # series that is exactly 5 minutes late fires and promtool says so.
    changed = ALERTS.read_text().replace(
        "max(axis_timers_late_seconds) > 300", "max(axis_timers_late_seconds) >= 300"
    )
    assert changed != ALERTS.read_text()
    (tmp_path / ALERTS.name).write_text(changed)
    (tmp_path / ALERTS_TEST.name).write_text(ALERTS_TEST.read_text())
    result = run_promtool("test", "rules", ALERTS_TEST.name, cwd=tmp_path)
    assert result.returncode == 1
    # promtool writes the failed cases to stderr.
    assert "name: a timer exactly 5 minutes late" in result.stderr
    assert "alertname: AxisTimersLate, time: 10m" in result.stderr
    assert result.stderr.count("alertname: ") == 1


def test_every_alert_waits_names_a_severity_and_explains_itself() -> None:
    rules = alert_rules()
    assert {rule["alert"]: rule["labels"]["severity"] for rule in rules} == EXPECTED_ALERTS
    for rule in rules:
        assert re.fullmatch(r"\d+[sm]", rule["for"]), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
        assert len(rule["annotations"]["description"]) > 100, rule["alert"]
    assert {rule["alert"]: rule["for"] for rule in rules} == {
        "AxisApiDown": "2m",
        "AxisWorkersDown": "2m",
        "AxisWorkflowPollingStopped": "5m",
        "AxisDatabaseDown": "2m",
        "AxisTemporalDown": "2m",
        "AxisTimersLate": "1m",
        "AxisDeadLetters": "1m",
        "AxisQueuedMessageOld": "1m",
        "AxisHighErrorRate": "10m",
    }


def test_the_rules_read_only_metrics_the_product_exports() -> None:
    used = {name for rule in alert_rules() for name in METRIC_NAME.findall(rule["expr"])}
    assert used == KNOWN_METRICS
    # Each axis_ family is named in a module the API's /metrics exposes (a counter without its
    # _total, which prometheus-client adds), so renaming one there fails here, not silently in
    # service.
    source = "".join(
        (ROOT / module).read_text()
        for module in ("api/metrics.py", "api/request_metrics.py", "services/reconcile_counts.py")
    )
    missing = [
        name
        for name in sorted(used)
        if name.startswith("axis_") and f'"{name.removesuffix("_total")}"' not in source
    ]
    assert missing == []


def test_every_alert_has_a_firing_case_and_a_quiet_case() -> None:
    suite: dict[str, Any] = yaml.safe_load(ALERTS_TEST.read_text())
    assert suite["rule_files"] == [ALERTS.name]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in suite["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fired == set(EXPECTED_ALERTS)
    assert quiet == set(EXPECTED_ALERTS)
