"""A commune leader's task list across directives: their own commune's assignments only,
newest deadline first."""

from __future__ import annotations

from tests.api.test_directives_api import in_days, issue
from tests.conftest import ApiClient

INBOX = "/api/v1/assignments"


async def test_a_leader_lists_their_own_tasks_across_directives(api: ApiClient) -> None:
    both = await issue(api, communes=["24121", "24133"], deadline=in_days(900))
    other = await issue(api, communes=["24121"], deadline=in_days(901))
    ours = {both["id"], other["id"]}
    leader = await api.token("commune_leader", "24133")

    mine = (await api.request("GET", INBOX, token=leader, params={"limit": 500})).json()

    # Other tests share this database and issue directives of their own: only this test's two
    # are counted, wherever their deadlines put the others'.
    assert {row["commune_code"] for row in mine["data"]} == {"24133"}
    assert mine["count"] == len(mine["data"])
    assert [row["directive_id"] for row in mine["data"] if row["directive_id"] in ours] == [
        both["id"]
    ]
    refused = await api.request("GET", INBOX, token=leader, params={"commune_code": "24121"})
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "a commune leader acts on their own commune only"},
    )

    office = (
        await api.request("GET", INBOX, params={"commune_code": "24121", "limit": 500})
    ).json()
    # Newest deadline first.
    listed = [row["directive_id"] for row in office["data"] if row["directive_id"] in ours]
    assert listed == [other["id"], both["id"]]
    assert {row["commune_code"] for row in office["data"]} == {"24121"}
