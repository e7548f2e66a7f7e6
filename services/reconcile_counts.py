"""What the reconciliation jobs did, as Prometheus counters: the jobs run in the API's process
(at start, on a schedule) and from `make reconcile`; the API's /metrics exposes the counters."""

from __future__ import annotations

from prometheus_client import Counter

RECONCILE_JOBS = ("directives", "cases", "recurring")

# Process-wide, as Prometheus expects of a counter; registry=None: the API's registry adds them.
RECONCILER_RUNS = Counter(
    "axis_reconciler_runs", "Runs of a reconciliation job.", ["job"], registry=None
)
RECONCILER_REPAIRS = Counter(
    "axis_reconciler_repairs",
    "What the reconciliation jobs repaired, by job and kind of repair.",
    ["job", "kind"],
    registry=None,
)


def record_reconcile(job: str, repairs: dict[str, int]) -> None:
    """Count one run of a reconciliation job and what it repaired, by kind (a kind with 0 still
    makes its series, so a rule sees 0 rather than nothing)."""
    RECONCILER_RUNS.labels(job).inc()
    for kind, count in repairs.items():
        RECONCILER_REPAIRS.labels(job, kind).inc(count)
