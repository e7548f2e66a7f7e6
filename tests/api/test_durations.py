"""ISO 8601 durations as the API reads and writes them, and the checks `DirectiveCreate` makes on
a new directive before anything starts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.durations import format_duration, parse_duration
from services.schemas import DirectiveCreate


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT10S", 10),
        ("P3D", 259_200),  # 3 × 86 400
        ("P1DT12H", 129_600),  # 86 400 + 12 × 3 600
        ("P2W", 1_209_600),  # 14 × 86 400
        ("PT1H30M", 5_400),  # 3 600 + 30 × 60
        ("P1DT1H1M1S", 90_061),
        ("PT0S", 0),
        (" pt10s ", 10),  # surrounding space and lower case are forgiven
    ],
)
def test_parse_duration_counts_the_seconds(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_a_signed_duration_is_negative_where_signs_are_allowed() -> None:
    assert parse_duration("-P1D", signed=True) == -86_400
    assert parse_duration("-PT5S", signed=True) == -5
    assert parse_duration("P1D", signed=True) == 86_400


@pytest.mark.parametrize("text", ["P", "PT", "P1DT", "10S", "P1Y", "P1M", "", "PT1.5S", "1D"])
def test_parse_duration_refuses_what_is_not_a_day_or_time_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not an ISO 8601 duration"):
        parse_duration(text)


def test_a_negative_duration_is_refused_where_no_sign_is_allowed() -> None:
    with pytest.raises(ValueError, match="a negative duration is not allowed here"):
        parse_duration("-PT5S")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (10, "PT10S"),
        (259_200, "P3D"),
        (129_600, "P1DT12H"),
        (5_400, "PT1H30M"),
        (1_209_600, "P14D"),  # weeks are written as days
        (-86_400, "-P1D"),
        (-93_600, "-P1DT2H"),
        (0, "PT0S"),
    ],
)
def test_format_duration_writes_the_canonical_form(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "text", ["PT10S", "PT30M", "P3D", "P1DT12H", "PT1H30M", "P1DT1H1M1S", "-P1D", "-PT5S", "PT0S"]
)
def test_a_canonical_duration_survives_a_round_trip(text: str) -> None:
    assert format_duration(parse_duration(text, signed=True)) == text


def directive(**fields: Any) -> DirectiveCreate:
    base: dict[str, Any] = {"title": "Rà soát hộ nghèo", "body": "Báo cáo số liệu."}
    return DirectiveCreate.model_validate({**base, **fields})


def refused(**fields: Any) -> str:
    with pytest.raises(ValidationError) as error:
        directive(**fields)
    return str(error.value)


def test_a_directive_gets_the_default_reminders_and_escalation_ladder() -> None:
    created = directive(due_in_working_days=5)
    assert created.reminder_offsets == ["P1D", "-P1D"]
    assert [step.model_dump() for step in created.escalation] == [
        {"after": "P2D", "to": "official_in_charge"},
        {"after": "P5D", "to": "steering_office"},
    ]
    assert (created.deadline, created.communes, created.acknowledge_within) == (None, None, None)


def test_an_aware_deadline_is_accepted_as_given() -> None:
    created = directive(deadline="2026-12-01T17:00:00+07:00", communes=["24133", "24175"])
    assert created.deadline is not None
    assert created.deadline.isoformat() == "2026-12-01T17:00:00+07:00"
    assert created.communes == ["24133", "24175"]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"deadline": "2026-12-01T17:00:00+07:00", "due_in_working_days": 5},
    ],
)
def test_exactly_one_of_deadline_and_working_days_is_required(fields: dict[str, Any]) -> None:
    assert "give exactly one of deadline and due_in_working_days" in refused(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"deadline": "2026-12-01T17:00:00"}, "timezone_aware"),
        ({"due_in_working_days": 0}, "greater_than_equal"),
        ({"due_in_working_days": 5, "status": "active"}, "extra_forbidden"),
        ({"due_in_working_days": 5, "title": "   "}, "string_too_short"),
        (
            {
                "due_in_working_days": 5,
                "escalation": [
                    {"after": "P5D", "to": "steering_office"},
                    {"after": "P2D", "to": "official_in_charge"},
                ],
            },
            "escalation steps must come in order",
        ),
        (
            {
                "due_in_working_days": 5,
                "escalation": [
                    {"after": "P2D", "to": "official_in_charge"},
                    {"after": "PT48H", "to": "steering_office"},
                ],
            },
            "escalation steps must come in order",
        ),
        (
            {"due_in_working_days": 5, "escalation": [{"after": "-P1D", "to": "steering_office"}]},
            "a negative duration is not allowed here",
        ),
        (
            {"due_in_working_days": 5, "escalation": [{"after": "P2D", "to": "commune_leader"}]},
            "literal_error",
        ),
        ({"due_in_working_days": 5, "reminder_offsets": ["P1D", "PT24H"]}, "must differ"),
        ({"due_in_working_days": 5, "reminder_offsets": ["P1Y"]}, "not an ISO 8601 duration"),
        ({"due_in_working_days": 5, "acknowledge_within": "PT0S"}, "longer than zero"),
        ({"due_in_working_days": 5, "communes": []}, "must name at least one commune"),
        ({"due_in_working_days": 5, "communes": ["24133", "24133"]}, "must not repeat"),
    ],
)
def test_an_invalid_directive_is_refused_with_its_reason(
    fields: dict[str, Any], message: str
) -> None:
    assert message in refused(**fields)
