"""What a row of the benchmark reports from its runs: the median of each side, the ratio of the
two medians, and the spread (lowest and highest run) beside them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile by nearest rank: an actual observation, never an interpolation."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def _round(value: float) -> float:
    # Three decimals as before, but never fewer than three significant digits: 0.0123 s.
    magnitude = abs(value)
    if magnitude == 0 or magnitude >= 1:
        return round(value, 3)
    digits = 3
    while magnitude < 0.1 and digits < 9:
        magnitude *= 10
        digits += 1
    return round(value, digits)


def row(
    name: str,
    unit: str,
    product: Sequence[float],
    baseline: Sequence[float] | None,
    note: str = "",
) -> dict[str, Any]:
    """One row from the runs of each side. `product` and `product_min`/`product_max` are the
    median and the extremes of the product's runs, the same for the baseline; `ratio` is
    median(product) / median(baseline). `runs` counts the measured runs of each side."""
    p = statistics.median(product)
    b = statistics.median(baseline) if baseline else None
    result: dict[str, Any] = {
        "name": name,
        "unit": unit,
        "product": _round(p),
        "baseline": _round(b) if b is not None else None,
        "ratio": round(p / b, 2) if b else None,
        "product_min": _round(min(product)),
        "product_max": _round(max(product)),
        "baseline_min": _round(min(baseline)) if baseline else None,
        "baseline_max": _round(max(baseline)) if baseline else None,
        "runs": len(product),
        "product_runs": [_round(v) for v in product],
        "baseline_runs": [_round(v) for v in baseline] if baseline else None,
    }
    if note:
        result["note"] = note
    return result


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """Seconds since the block began; frozen once it ends."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())
