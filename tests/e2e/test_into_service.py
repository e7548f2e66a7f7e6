"""Into service, as the province's operator and people meet it: `python run.py` with the demo
off (AXIS_LOAD_DEMO_ROSTER=false) on an empty data directory. The demo office sign-in is refused;
the first office account comes from the documented command (`make account`), its holder sets a
password through the setup link and signs in; the office opens a commune leader's account
through the API; the leader sets a password, signs in, sees their commune's task and gets 404
for another commune's; the office disables the leader and the leader's next request lands on the
sign-in page."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.test_stack import ROOT, eventually, free_port, running_stack

pytestmark = pytest.mark.live
OFFICE_TOKEN = "into-service-office-token-0123456789abcdef"
LEADER_COMMUNE, OTHER_COMMUNE = "24133", "24121"
SETUP_LINK = re.compile(r"https?://\S+/setup/[A-Za-z0-9_-]+")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Stack:
    base: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("into-service")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "AXIS_LOAD_DEMO_ROSTER": "false",
        "AXIS_ADMIN_TOKEN": OFFICE_TOKEN,
        "AXIS_PUBLIC_URL": base,
        "AXIS_DATA_DIR": str(data),
    }
    with running_stack(data, AXIS_PORT=str(port), **env) as running:
        assert running == base
        yield Stack(base, env)


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{stack.base}/api/v1",
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}"},
        timeout=30,
    ) as client:
        yield client


def browser(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.base, timeout=30, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


async def sign_in(page: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    form = await page.get("/login")
    return await page.post(
        "/login", data={"username": username, "password": password, "csrf": csrf_of(form.text)}
    )


async def set_password(page: httpx.AsyncClient, link: str, password: str) -> httpx.Response:
    path = httpx.URL(link).path
    form = await page.get(path)
    assert form.status_code == 200, form.text[:300]
    return await page.post(
        path, data={"password": password, "confirm": password, "csrf": csrf_of(form.text)}
    )


def make_account(stack: Stack, *args: str) -> str:
    """`make account …` as the README documents it, against the stack's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
    env.update(stack.env)
    done = subprocess.run(
        ["make", "-s", "account", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    links = SETUP_LINK.findall(done.stdout)
    assert len(links) == 1, done.stdout
    return links[0]


async def issue(api: httpx.AsyncClient, title: str, commune: str) -> int:
    deadline = datetime.now(UTC) + timedelta(days=10)
    answer = await api.post(
        "/directives",
        json={"title": title, "body": "Báo cáo kèm minh chứng.", "deadline": deadline.isoformat(),
              "communes": [commune]},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    directive_id: int = answer.json()["id"]

    async def recorded() -> bool:
        found = await api.get(f"/directives/{directive_id}/assignments")
        return bool(found.json()["count"] == 1)

    await eventually(recorded, 60, f"directive {directive_id}'s assignment recorded")
    return directive_id


async def test_the_office_puts_real_people_into_service_and_the_demo_stays_out(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    async with browser(stack) as page:
        refused = await sign_in(page, "vanphong", "vanphong-demo")
        assert refused.status_code == 401

    # The first steering-office account, from the documented command.
    office_link = make_account(
        stack, "USERNAME=vp.tran", "NAME=Trần Thị Bình", "EMAIL=binh@example.invalid"
    )
    assert office_link.startswith(f"{stack.base}/setup/")
    async with browser(stack) as office:
        assert (await set_password(office, office_link, "Đắk Lắk chuyển đổi số 2026")).headers[
            "location"
        ] == "/"
        assert (await office.get("/")).status_code == 200
        # Single use: the link now shows that it is spent.
        assert (await office.get(httpx.URL(office_link).path)).status_code == 410
    async with browser(stack) as office:
        signed_in = await sign_in(office, "vp.tran", "Đắk Lắk chuyển đổi số 2026")
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/")

    # The office opens a commune leader's account through the API.
    opened = await api.post(
        "/accounts",
        json={"username": "ct.buonmathuot", "name": "Chủ tịch UBND phường Buôn Ma Thuột",
              "role": "commune_leader", "commune_code": LEADER_COMMUNE},
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    leader_account = opened.json()
    assert (leader_account["role"], leader_account["commune_code"]) == (
        "commune_leader",
        LEADER_COMMUNE,
    )
    theirs = await issue(api, "Báo cáo số hoá hồ sơ", LEADER_COMMUNE)
    another = await issue(api, "Nhiệm vụ của xã khác", OTHER_COMMUNE)

    async with browser(stack) as leader:
        landed = await set_password(leader, leader_account["setup_url"], "Buôn Ma Thuột xanh 2026")
        assert (landed.status_code, landed.headers["location"]) == (303, "/inbox")
        inbox = await leader.get("/inbox")
        assert inbox.status_code == 200
        assert "Báo cáo số hoá hồ sơ" in inbox.text
        assert "Nhiệm vụ của xã khác" not in inbox.text
        assert (await leader.get(f"/inbox/directives/{theirs}")).status_code == 200
        assert (await leader.get(f"/inbox/directives/{another}")).status_code == 404
        missing = await leader.get(f"/inbox/directives/{another + 1000}")
        assert missing.status_code == 404

        disabled = await api.post(f"/accounts/{leader_account['id']}/disable")
        assert disabled.status_code == 200, disabled.text
        after = await leader.get("/inbox")
        assert after.status_code == 303
        assert httpx.URL(after.headers["location"]).path == "/login"
        assert (
            await sign_in(leader, "ct.buonmathuot", "Buôn Ma Thuột xanh 2026")
        ).status_code == 401

    audit = (await api.get("/audit", params={"limit": 500})).json()
    actions = [(e["action"], e["subject"]) for e in audit["data"]]
    # No demo account exists with the demo off: the demo's name is just an unknown username.
    assert actions.count(("signin.failed", "vanphong")) == 1
    assert actions.count(("account.created", "ct.buonmathuot")) == 1
    assert actions.count(("account.disabled", "ct.buonmathuot")) == 1
    assert actions.count(("signin.ok", "vp.tran")) == 2
