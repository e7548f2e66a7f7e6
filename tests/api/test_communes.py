from __future__ import annotations

from collections import Counter

from tests.conftest import ApiClient


async def test_lists_the_102_communes_and_wards_of_dak_lak(api: ApiClient) -> None:
    answer = await api.request("GET", "/api/v1/communes")
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 102
    assert len(body["data"]) == 102
    assert Counter(c["kind"] for c in body["data"]) == {"commune": 88, "ward": 14}
    by_code = {c["code"]: c for c in body["data"]}
    # The package writes "Phường  Buôn Ma Thuột" with two spaces; the API does not.
    assert by_code["24133"]["name"] == "Phường Buôn Ma Thuột"
    assert all("  " not in c["name"] for c in body["data"])


async def test_refuses_a_request_without_a_valid_token(api: ApiClient) -> None:
    assert (await api.http.get("/api/v1/communes")).status_code == 401
    answer = await api.request("GET", "/api/v1/communes", token="not-a-token")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "the token is unknown or revoked"}
