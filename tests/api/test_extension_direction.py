"""Through the API: an amendment of the directive's deadline keeps a later extension granted
to a commune, and a stored extension request that an amendment has caught up with is refused
(409) instead of moving the deadline earlier."""

from __future__ import annotations

from typing import Any

from tests.api.test_assignments_api import detail, open_directive
from tests.api.test_directives_api import (
    DIRECTIVES,
    act,
    assignments_of,
    eventually,
    in_days,
    iso7,
    parse,
)
from tests.conftest import ApiClient

PENDING, EXTENDED, UNEXTENDED = "24121", "24133", "24175"


async def test_an_amendment_keeps_a_later_extension_and_a_request_it_caught_up_with_is_refused(
    api: ApiClient,
) -> None:
    directive = await open_directive(api, communes=[PENDING, EXTENDED, UNEXTENDED])
    directive_id = directive["id"]
    tokens = {code: await api.token("commune_leader", code) for code in (PENDING, EXTENDED)}
    requested, extended, amended = in_days(12), in_days(20), in_days(15)

    for code, until in ((PENDING, requested), (EXTENDED, extended)):
        asked = await act(
            api, tokens[code], directive_id, code, "extension", {"until": iso7(until)}
        )
        assert asked.status_code == 200, asked.text
    granted = await act(
        api, api.admin_token, directive_id, EXTENDED, "extension/decision", {"decision": "grant"}
    )
    assert granted.status_code == 200, granted.text
    assert parse(granted.json()["deadline"]) == extended

    # The directive's deadline moves from day 10 to day 15: past the pending request (day 12),
    # short of the extension granted (day 20).
    answer = await api.request(
        "PATCH", f"{DIRECTIVES}/{directive_id}", json={"deadline": iso7(amended)}
    )
    assert answer.status_code == 200, answer.text

    async def relayed() -> dict[str, dict[str, Any]]:
        found = await assignments_of(api, directive_id)
        assert {c: a["revision"] for c, a in found.items()} == {
            PENDING: 2,
            EXTENDED: 2,
            UNEXTENDED: 2,
        }
        return found

    found = await eventually(relayed)
    assert {
        c: (parse(a["deadline"]), parse(a["original_deadline"]), a["timeliness"])
        for c, a in found.items()
    } == {
        PENDING: (amended, amended, "within_deadline"),
        EXTENDED: (extended, amended, "within_deadline"),
        UNEXTENDED: (amended, amended, "within_deadline"),
    }
    assert parse(found[PENDING]["extension_requested_until"]) == requested

    # Granting the request as it stands would move the deadline back from day 15 to day 12.
    refused = await act(
        api, api.admin_token, directive_id, PENDING, "extension/decision", {"decision": "grant"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json() == {
        "detail": "the requested date is no longer later than the current deadline: "
        "grant a later date, or refuse the request"
    }
    pending = await detail(api, directive_id, PENDING)
    assert (parse(pending["deadline"]), parse(pending["extension_requested_until"])) == (
        amended,
        requested,
    )
    assert [e["kind"] for e in pending["events"]] == ["extension_requested", "amended"]
