"""Where indicators get their figures: a source is a function (session, period, as_of) →
{commune_code: {figure: number}} that answers for every commune in one query, with a
companion that lists the records behind a figure for one commune. The assignments roll-up
registers here; so do recurring obligations, dossiers and feedback (db/procedure_scoring.py),
whose indicators rule set v3 adds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db import obligations, procedure_scoring, rollup
from scoring.periods import Period

Figures = Callable[[Session, Period, datetime], dict[str, dict[str, Any]]]
# (session, period, as_of, commune, counted, excluded) → [{"assignment_id": …, …}]
Evidence = Callable[[Session, Period, datetime, str, str, str | None], list[dict[str, Any]]]


@dataclass(frozen=True)
class Source:
    figures: Figures
    evidence: Evidence


SOURCES: dict[str, Source] = {}


def register_source(name: str, source: Source) -> None:
    SOURCES[name] = source


register_source("assignments", Source(figures=rollup.rollup, evidence=rollup.assignments_behind))
register_source(
    "obligations",
    Source(figures=obligations.obligation_figures, evidence=obligations.missed_periods),
)
register_source(
    "dossiers",
    Source(figures=procedure_scoring.dossier_figures, evidence=procedure_scoring.dossiers_behind),
)
register_source(
    "feedback",
    Source(figures=procedure_scoring.feedback_figures, evidence=procedure_scoring.feedback_behind),
)
