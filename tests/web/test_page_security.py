"""The pages' security headers on every page route, and the office's redirect after a decision:
back to a page of ours, never to the host a Referer names."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from api.routes import links, public
from api.security_headers import CONTENT_SECURITY_POLICY
from tests.api.test_directives_api import eventually
from tests.web.test_pages_http import Pages, csrf_of, pages  # noqa: F401 (the fixture)
from vocabulary.roles import Role
from web import accounts_pages, inbox, indicator_pages, login, office, plan_pages, scores_pages

pytestmark = pytest.mark.live

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}


def page_routes() -> list[str]:
    """Every GET route of the pages, the public pages and the links, from their routers."""
    found = set()
    modules = (accounts_pages, inbox, indicator_pages, login, office, plan_pages, scores_pages)
    routers = [module.router for module in modules]
    for router in [*routers, public.pages, links.router]:
        for route in router.routes:
            if isinstance(route, APIRoute) and "GET" in (route.methods or set()):
                found.add(route.path)
    return sorted(found)


async def test_every_page_answers_with_the_security_headers(pages: Pages) -> None:  # noqa: F811
    directive_id = await pages.issue(["24133"])
    office = await pages.browser(pages.account(Role.STEERING_OFFICE))
    paths = page_routes()
    checked: dict[str, int] = {}
    for path in paths:
        url = re.sub(r"\{directive_id\}", str(directive_id), path)
        url = url.replace("{commune_code}", "24133")
        url = re.sub(r"\{[a-z_]+(:path)?\}", "x", url)
        answer = await office.get(url)
        for name, value in EXPECTED.items():
            assert answer.headers.get(name) == value, (url, answer.status_code, name)
        # A page's own stricter referrer policy (no-referrer on a link's page) is kept.
        assert answer.headers["referrer-policy"] in ("same-origin", "no-referrer"), url
        checked[url] = answer.status_code
    assert len(checked) == len(paths) >= 15
    # The pages load their style and script as files: nothing inline the policy would block.
    home = await office.get(f"/directives/{directive_id}")
    assert "<script>" not in home.text and "<style>" not in home.text
    assert ' style="' not in home.text
    for asset in ("/static/app.css", "/static/live.js", "/static/back.js"):
        served = await office.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["x-content-type-options"] == "nosniff"


async def test_an_office_decision_never_redirects_to_another_host(pages: Pages) -> None:  # noqa: F811
    directive_id = await pages.issue(["24133"])
    token = await pages.http.post(
        "/api/v1/tokens",
        headers={"Authorization": f"Bearer {pages.admin}"},
        json={"role": "commune_leader", "commune_code": "24133", "name": "Lãnh đạo"},
    )
    leader = {"Authorization": f"Bearer {token.json()['token']}"}
    base = f"/api/v1/directives/{directive_id}/assignments/24133"

    async def reported() -> None:
        answer = await pages.http.post(
            f"{base}/report", headers=leader, json={"summary": "Xong.", "evidence": []}
        )
        assert answer.status_code == 200, answer.text

    await eventually(reported)
    office = await pages.browser(pages.account(Role.STEERING_OFFICE))
    page = await office.get(f"/directives/{directive_id}/communes/24133")
    csrf = csrf_of(page.text)
    review = f"/directives/{directive_id}/communes/24133/review"
    evil = await office.post(
        review,
        data={"csrf": csrf, "decision": "return", "comment": "Bổ sung"},
        headers={"Referer": f"https://evil.example/directives/{directive_id}"},
    )
    assert (evil.status_code, evil.headers["location"]) == (303, f"/directives/{directive_id}")
    await eventually(reported)
    ours = await office.post(
        review,
        data={"csrf": csrf, "decision": "accept"},
        headers={"Referer": f"https://axis.test/directives/{directive_id}?status=reported"},
    )
    assert (ours.status_code, ours.headers["location"]) == (
        303,
        f"/directives/{directive_id}?status=reported",
    )
