"""Where indicators get their figures: a source is a function (session, period, as_of) →
{commune_code: {figure: number}} that answers for every commune in one query, with a
companion that lists the records behind a figure for one commune. The assignments roll-up
registers here; so do recurring obligations, dossiers and feedback (scoring/procedures.py),
whose indicators rule set v3 adds; and the commune criteria (scoring/criteria.py), whose
indicator rule set v6 adds.

A source may also answer for the province's agencies (`agencies`): only the assignments do, for
an agency receives a plan's tasks and nothing else (no obligations, dossiers, feedback or
criteria), so an agencies' rule set reads the assignments alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from scoring import criteria, obligations, procedures, rollup
from scoring.periods import Period

Figures = Callable[[Session, Period, datetime], dict[str, dict[str, Any]]]
# (session, period, as_of, commune, counted, excluded) → [{"assignment_id": …, …}]
Evidence = Callable[[Session, Period, datetime, str, str, str | None], list[dict[str, Any]]]


@dataclass(frozen=True)
class Source:
    figures: Figures
    evidence: Evidence
    # The same figures for every active agency, where the source has any.
    agencies: Figures | None = None


SOURCES: dict[str, Source] = {}


def register_source(name: str, source: Source) -> None:
    SOURCES[name] = source


register_source(
    "assignments",
    Source(
        figures=rollup.rollup, evidence=rollup.assignments_behind, agencies=rollup.agency_rollup
    ),
)
register_source(
    "obligations",
    Source(figures=obligations.obligation_figures, evidence=obligations.periods_behind),
)
register_source(
    "dossiers",
    Source(figures=procedures.dossier_figures, evidence=procedures.dossiers_behind),
)
register_source(
    "feedback",
    Source(figures=procedures.feedback_figures, evidence=procedures.feedback_behind),
)
register_source(
    "criteria",
    Source(figures=criteria.criteria_figures, evidence=criteria.criteria_behind),
)
