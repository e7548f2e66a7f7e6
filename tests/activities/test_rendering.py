"""Rendering notification templates: every kind in both languages, dates in Vietnam time,
strict and sandboxed templates, and subjects that stay on one line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from activities.notifications import CONTEXT_DEFAULTS
from activities.rendering import TEMPLATES_DIR, Renderer, duration_text, local_time
from vocabulary.cases import CaseNotificationKind
from vocabulary.directives import NotificationKind

DEADLINE = datetime(2026, 2, 27, 10, 0, tzinfo=UTC)  # 17:00 on Fri 27 Feb 2026 in Vietnam
GREETING = {"vi": "Kính gửi Nguyễn Văn A,", "en": "Dear Nguyễn Văn A,"}


def context(title: str = "Rà soát hộ nghèo", **overrides: Any) -> dict[str, Any]:
    return {
        **CONTEXT_DEFAULTS,
        "directive": {"id": 7, "title": title, "body": "Báo cáo số liệu trước hạn."},
        "commune": {"code": "24133", "name": "Phường Buôn Ma Thuột"},
        "recipient": {"name": "Nguyễn Văn A"},
        "deadline": DEADLINE,
        "link": "http://axis.test/api/v1/directives/7/assignments/24133",
        **overrides,
    }


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_kind_renders_a_one_line_subject_and_a_greeting_body(
    renderer: Renderer, kind: NotificationKind, language: str
) -> None:
    message = renderer.render(kind.value, "email", language, context())
    assert message.subject.startswith("[")
    assert "Rà soát hộ nghèo" in message.subject
    assert "\n" not in message.subject
    assert message.body.startswith(GREETING[language])
    assert "Phường Buôn Ma Thuột" in message.body


@pytest.mark.parametrize(
    ("kind", "language", "overrides", "subject"),
    [
        ("issued", "vi", {}, "[Chỉ đạo] Rà soát hộ nghèo — hạn 17:00 ngày 27/02/2026"),
        ("issued", "en", {}, "[Directive] Rà soát hộ nghèo — due 17:00, 27 Feb 2026"),
        (
            "reminder",
            "vi",
            {"offset_seconds": "86400"},
            "[Nhắc hạn] Rà soát hộ nghèo — còn 1 ngày",
        ),
        ("reminder", "en", {"reason": "acknowledge"}, "[Please acknowledge] Rà soát hộ nghèo"),
        (
            "overdue",
            "en",
            {"offset_seconds": "-7200"},
            "[Overdue] Rà soát hộ nghèo — 2 hour(s) past the deadline",
        ),
        (
            "escalation",
            "vi",
            {"level": "2", "to": "steering_office"},
            "[Chuyển cấp 2] Phường Buôn Ma Thuột chưa báo cáo: Rà soát hộ nghèo",
        ),
        (
            "extension_decided",
            "vi",
            {"granted": "true"},
            "[Gia hạn được chấp thuận] Rà soát hộ nghèo",
        ),
        ("extension_decided", "en", {}, "[Extension refused] Rà soát hộ nghèo"),
    ],
)
def test_subjects_read_exactly_as_written_for_their_context(
    renderer: Renderer, kind: str, language: str, overrides: dict[str, Any], subject: str
) -> None:
    assert renderer.render(kind, "email", language, context(**overrides)).subject == subject


def test_the_issued_body_gives_the_deadline_in_vietnam_time_and_the_link(
    renderer: Renderer,
) -> None:
    # The deadline may arrive as a datetime or, from a workflow's context, as ISO text.
    for deadline in (DEADLINE, "2026-02-27T10:00:00+00:00"):
        body = renderer.render("issued", "email", "vi", context(deadline=deadline)).body
        assert "Hạn hoàn thành: 17:00 ngày 27/02/2026." in body
        assert body.endswith(
            "Xem và báo cáo: http://axis.test/api/v1/directives/7/assignments/24133"
        )


def test_an_acknowledgement_time_appears_only_when_one_is_set(renderer: Renderer) -> None:
    plain = renderer.render("issued", "email", "en", context()).body
    asked = renderer.render(
        "issued", "email", "en", context(acknowledge_by=datetime(2026, 2, 20, 1, 30, tzinfo=UTC))
    ).body
    assert "acknowledge" not in plain
    assert "Please acknowledge receipt before 08:30, 20 Feb 2026." in asked


def test_a_channel_without_its_own_template_falls_back_to_email(renderer: Renderer) -> None:
    email = renderer.render("issued", "email", "vi", context())
    assert renderer.render("issued", "zalo", "vi", context()) == email
    assert renderer.render("issued", "sms", "vi", context()) != email


def test_an_unknown_language_falls_back_to_vietnamese(renderer: Renderer) -> None:
    vietnamese = renderer.render("recalled", "email", "vi", context())
    assert renderer.render("recalled", "email", "fr", context()) == vietnamese


def test_a_missing_context_variable_is_an_error_not_a_blank(renderer: Renderer) -> None:
    incomplete = context()
    del incomplete["link"]
    with pytest.raises(UndefinedError, match="'link' is undefined"):
        renderer.render("issued", "email", "vi", incomplete)


def test_a_title_with_a_newline_cannot_split_the_subject(renderer: Renderer) -> None:
    message = renderer.render("issued", "email", "vi", context(title="Họp\nBcc: x@y"))
    # The whole first line of the template is the subject, its newline folded into a space.
    assert message.subject == "[Chỉ đạo] Họp Bcc: x@y — hạn 17:00 ngày 27/02/2026"
    assert message.body.startswith(GREETING["vi"])


def test_user_text_is_printed_not_run_as_template_code(renderer: Renderer) -> None:
    message = renderer.render("issued", "email", "en", context(title="{{ 7 * 7 }}"))
    assert message.subject == "[Directive] {{ 7 * 7 }} — due 17:00, 27 Feb 2026"


def test_the_sandbox_refuses_access_to_python_internals(renderer: Renderer) -> None:
    template = renderer._env.from_string("{{ ''.__class__.__mro__ }}")
    with pytest.raises(SecurityError, match="'__class__' of 'str' object is unsafe"):
        template.render()


@pytest.mark.parametrize(
    ("value", "language", "text"),
    [
        (DEADLINE, "vi", "17:00 ngày 27/02/2026"),
        (DEADLINE, "en", "17:00, 27 Feb 2026"),
        ("2026-12-31T17:30:00+00:00", "vi", "00:30 ngày 01/01/2027"),
        ("2026-12-31T17:30:00+00:00", "en", "00:30, 01 Jan 2027"),
    ],
)
def test_local_time_writes_vietnam_time_the_way_each_language_does(
    value: datetime | str, language: str, text: str
) -> None:
    assert local_time(value, language) == text


@pytest.mark.parametrize(
    ("seconds", "language", "text"),
    [
        (90061, "vi", "1 ngày 1 giờ 1 phút 1 giây"),
        (90061, "en", "1 day(s) 1 hour(s) 1 minute(s) 1 second(s)"),
        ("-7200", "vi", "2 giờ"),
        (172830, "en", "2 day(s) 30 second(s)"),
        (0, "vi", "0 giây"),
        (0, "en", "0 second(s)"),
    ],
)
def test_duration_text_names_each_nonzero_unit(
    seconds: int | str, language: str, text: str
) -> None:
    assert duration_text(seconds, language) == text


# A case's messages to people on the roster go by their channels; the applicant's are recorded.
ROSTER_CASE_KINDS = [
    k
    for k in CaseNotificationKind
    if k not in (CaseNotificationKind.DOSSIER_APOLOGY, CaseNotificationKind.FEEDBACK_ANSWERED)
]
# An installation's public address of a realistic length, and a case id of six digits.
LONG_LINK = "https://chidao.daklak.gov.vn/api/v1/feedback/123456"


def case_context(commune: str = "Phường Buôn Ma Thuột", **overrides: Any) -> dict[str, Any]:
    """What a case's SMS is rendered with, at recording and when it goes out."""
    return {
        "receipt_code": "7K3MQ9XD2HTBW",
        "commune": {"code": "24133", "name": commune},
        "recipient": {"name": "Nguyễn Văn A"},
        "dossier": {"id": 123456, "procedure": "Tách hộ", "due_at": DEADLINE},
        "feedback": {
            "id": 123456,
            "service": "Đèn chiếu sáng công cộng",
            "answer_due_at": DEADLINE,
        },
        "link": LONG_LINK,
        **overrides,
    }


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("kind", ROSTER_CASE_KINDS)
def test_a_case_s_sms_is_one_plain_gsm_message_with_its_code_deadline_commune_and_link(
    renderer: Renderer, kind: CaseNotificationKind, language: str
) -> None:
    message = renderer.render(kind.value, "sms", language, case_context())
    # Province's longest commune name, a six-digit case id on a real domain: one SMS.
    assert len(message.body) <= 160 and message.body.isascii()
    assert "7K3MQ9XD2HTBW" in message.body and "17:00 27/02" in message.body
    assert "Phuong Buon Ma Thuot" in message.body
    assert message.body.endswith(LONG_LINK)
    assert "7K3MQ9XD2HTBW" in message.subject and "\n" not in message.subject


@pytest.mark.parametrize(
    ("kind", "language", "overrides", "body"),
    [
        (
            "dossier_reminder",
            "vi",
            {},
            "Nhac han: Ho so 7K3MQ9XD2HTBW tai Phuong Buon Ma Thuot phai tra ket qua truoc "
            f"17:00 27/02. Chi tiet: {LONG_LINK}",
        ),
        (
            "dossier_escalation",
            "en",
            {},
            "Escalated: dossier 7K3MQ9XD2HTBW at Phuong Buon Ma Thuot is overdue since "
            f"17:00 27/02. Details: {LONG_LINK}",
        ),
        (
            "feedback_routed",
            "vi",
            {"commune": ""},
            "Phan anh moi 7K3MQ9XD2HTBW chua xac dinh xa, phuong, han tra loi 17:00 27/02. "
            f"Chi tiet: {LONG_LINK}",
        ),
        (
            "feedback_escalation",
            "vi",
            {},
            "Chuyen cap: Phan anh 7K3MQ9XD2HTBW gui Phuong Buon Ma Thuot qua han tra loi tu "
            f"17:00 27/02. Chi tiet: {LONG_LINK}",
        ),
    ],
)
def test_a_case_s_sms_reads_exactly_as_written(
    renderer: Renderer, kind: str, language: str, overrides: dict[str, Any], body: str
) -> None:
    assert renderer.render(kind, "sms", language, case_context(**overrides)).body == body


@pytest.mark.parametrize("language", ["vi", "en"])
def test_only_the_applicant_s_case_messages_have_no_sms_template(language: str) -> None:
    # The applicant is on no roster: their messages are recorded, never sent by SMS.
    with_sms = {
        k for k in CaseNotificationKind if (TEMPLATES_DIR / language / f"{k}.sms.j2").exists()
    }
    assert with_sms == set(ROSTER_CASE_KINDS)
