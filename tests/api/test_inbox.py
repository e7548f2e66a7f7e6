"""A commune leader's task list across directives: their own commune's assignments only,
newest deadline first."""

from __future__ import annotations

from tests.api.test_directives_api import in_days, issue
from tests.conftest import ApiClient

INBOX = "/api/v1/assignments"


async def test_a_leader_lists_their_own_tasks_across_directives(api: ApiClient) -> None:
    # Deadlines further out than any other test's put these two first in the list.
    both = await issue(api, communes=["24121", "24133"], deadline=in_days(900))
    other = await issue(api, communes=["24121"], deadline=in_days(901))
    leader = await api.token("commune_leader", "24133")

    mine = (await api.request("GET", INBOX, token=leader, params={"limit": 500})).json()

    assert {row["commune_code"] for row in mine["data"]} == {"24133"}
    assert mine["count"] == len(mine["data"])
    assert mine["data"][0]["directive_id"] == both["id"]
    assert other["id"] not in {row["directive_id"] for row in mine["data"]}
    refused = await api.request("GET", INBOX, token=leader, params={"commune_code": "24121"})
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "a commune leader acts on their own commune only"},
    )

    office = (await api.request("GET", INBOX, params={"commune_code": "24121", "limit": 2})).json()
    assert [row["directive_id"] for row in office["data"]] == [other["id"], both["id"]]
    assert office["count"] >= 2
