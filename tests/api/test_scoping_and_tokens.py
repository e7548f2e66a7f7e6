"""Who sees what, through HTTP with real tokens: another commune's assignment, dossier and
feedback answer exactly as missing ones (404, the same body); an official in charge sees the
communes the roster gives them and no other; tokens expire and record their last use at most
once a minute; creating and revoking a token is audited."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from db.models import ApiToken, AuditEntry, Feedback, Person, RosterEntry
from services.principals import hash_token
from tests.api.test_directives_api import issue, opened
from tests.api.test_procedures_api import dossier_body
from tests.conftest import ApiClient

pytestmark = pytest.mark.security

OWN, OTHER, MISSING = "24133", "24121", "99999"
# Can-bo-01 of the demo roster: in charge of ten communes, none of them OWN or OTHER.
OFFICIAL = "can-bo-01@example.invalid"
DOSSIERS = "/api/v1/dossiers"
TOKENS = "/api/v1/tokens"


def roster_communes(engine: Engine, email: str) -> set[str]:
    with Session(engine) as session:
        return set(
            session.scalars(
                select(RosterEntry.scope)
                .join(Person, Person.id == RosterEntry.person_id)
                .where(Person.email == email, RosterEntry.role == "official_in_charge")
            )
        )


def routed_feedback(engine: Engine, commune_code: str) -> int:
    """A feedback already routed to a commune (its workflow is not what is tested here)."""
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        row = Feedback(
            receipt_code=f"T{secrets.token_hex(6)}",
            description="Đèn đường hỏng",
            status="routed",
            requested_at=now,
            updated_at=now,
            commune_code=commune_code,
        )
        session.add(row)
        session.flush()
        return row.id


async def answer_of(api: ApiClient, method: str, path: str, token: str, body: Any = None) -> Any:
    found = await api.request(method, path, token=token, json=body)
    return found.status_code, found.json()


async def test_another_communes_objects_answer_exactly_as_missing_ones(
    api: ApiClient, engine: Engine, figure: Callable[[str], None]
) -> None:
    directive = await issue(api, communes=[OWN, OTHER])
    directive_id = directive["id"]
    await opened(api, directive_id)
    dossier = await api.request("POST", DOSSIERS, json=dossier_body(OTHER))
    assert dossier.status_code == 201, dossier.text
    dossier_id = dossier.json()["id"]
    feedback_id = routed_feedback(engine, OTHER)
    leader = await api.token("commune_leader", OWN)
    base = f"/api/v1/directives/{directive_id}/assignments"
    extension = {"until": "2099-01-01T17:00:00+07:00", "reason": "Chờ số liệu"}
    # (method, another commune's object, a missing one, body)
    pairs: list[tuple[str, str, str, Any]] = [
        ("GET", f"{base}/{OTHER}", f"{base}/{MISSING}", None),
        ("POST", f"{base}/{OTHER}/acknowledge", f"{base}/{MISSING}/acknowledge", None),
        ("POST", f"{base}/{OTHER}/report", f"{base}/{MISSING}/report", {"summary": "X"}),
        ("POST", f"{base}/{OTHER}/extension", f"{base}/{MISSING}/extension", extension),
        ("GET", f"{DOSSIERS}/{dossier_id}", f"{DOSSIERS}/{dossier_id + 10**6}", None),
        ("POST", f"{DOSSIERS}/{dossier_id}/start", f"{DOSSIERS}/{dossier_id + 10**6}/start", None),
    ]
    feedback = "/api/v1/feedback"
    pairs += [
        ("GET", f"{feedback}/{feedback_id}", f"{feedback}/{feedback_id + 10**6}", None),
        (
            "POST",
            f"{feedback}/{feedback_id}/answer",
            f"{feedback}/{feedback_id + 10**6}/answer",
            {"text": "Không phải của tôi"},
        ),
    ]
    identical = 0
    for method, theirs, missing, body in pairs:
        their_answer = await answer_of(api, method, theirs, leader, body)
        missing_answer = await answer_of(api, method, missing, leader, body)
        # The bodies name the id asked for; with it swapped, nothing tells the two apart.
        swapped = (
            missing_answer[0],
            {
                "detail": missing_answer[1]["detail"]
                .replace(MISSING, OTHER)
                .replace(str(dossier_id + 10**6), str(dossier_id))
                .replace(str(feedback_id + 10**6), str(feedback_id))
            },
        )
        assert their_answer[0] == 404, (method, theirs, their_answer)
        assert their_answer == swapped, (method, theirs)
        identical += 1
    figure(f"{identical} of {len(pairs)} cross-commune reads and actions answer as missing ids")
    assert identical == len(pairs) == 8


async def test_an_official_in_charge_sees_exactly_the_communes_of_the_roster(
    api: ApiClient, engine: Engine, figure: Callable[[str], None]
) -> None:
    theirs = roster_communes(engine, OFFICIAL)
    assert len(theirs) == 10 and not {OWN, OTHER} & theirs
    mine = sorted(theirs)[:3]
    directive = await issue(api, communes=[*mine, OWN, OTHER])
    directive_id = directive["id"]
    await opened(api, directive_id)
    for code in (mine[0], OTHER):
        answer = await api.request("POST", DOSSIERS, json=dossier_body(code))
        assert answer.status_code == 201, answer.text
    created = await api.request(
        "POST", TOKENS, json={"role": "official_in_charge", "name": "Cán bộ 1", "email": OFFICIAL}
    )
    assert created.status_code == 201, created.text
    official = created.json()["token"]
    assert created.json()["person_id"] is not None

    def get(path: str, **params: Any) -> Any:
        return api.request("GET", path, token=official, params=params or None)

    listed = (await get(f"/api/v1/directives/{directive_id}/assignments")).json()
    assert (listed["count"], {a["commune_code"] for a in listed["data"]}) == (3, set(mine))
    everything = (await get("/api/v1/assignments", limit=500)).json()
    assert {a["commune_code"] for a in everything["data"]} <= theirs
    assert everything["count"] == len(everything["data"])
    dossiers = (await get(DOSSIERS, limit=500)).json()
    assert {d["commune_code"] for d in dossiers["data"]} <= theirs
    assert mine[0] in {d["commune_code"] for d in dossiers["data"]}
    notices = (await get("/api/v1/notifications", limit=500)).json()
    assert {n["commune_code"] for n in notices["data"]} <= theirs
    feedback = (await get("/api/v1/feedback", limit=500)).json()
    assert {f["commune_code"] for f in feedback["data"]} <= theirs
    # The change feed too: the changes of their communes only.
    cursor, feed = None, []
    while page := (
        await get("/api/v1/changes", limit=1000, **({"after": cursor} if cursor else {}))
    ).json()["data"]:
        feed += page
        cursor = page[-1]["cursor"]
    seen = {c["commune_code"] for c in feed if c["directive_id"] == directive_id}
    assert seen == set(mine), seen

    base = f"/api/v1/directives/{directive_id}/assignments"
    assert (await get(f"{base}/{mine[0]}")).status_code == 200
    for code in (OWN, OTHER):
        refused = await get(f"{base}/{code}")
        assert (refused.status_code, refused.json()) == (
            404,
            {"detail": f"directive {directive_id} has no assignment for commune {code}"},
        )
        scorecard = await get(f"/api/v1/communes/{code}/scorecard", period="2026-11")
        assert (scorecard.status_code, scorecard.json()) == (404, {"detail": f"no commune {code}"})
        filtered = await get("/api/v1/assignments", commune_code=code)
        assert filtered.status_code == 403
        assert filtered.json() == {
            "detail": "an official in charge sees the communes they answer for only"
        }
    card = await get(f"/api/v1/communes/{mine[0]}/scorecard", period="2026-11")
    assert card.status_code == 200, card.text
    # The province-wide ranking and the directive's totals stay the same for every role.
    ranking = (await get("/api/v1/scores", period="2026-11")).json()
    assert len(ranking["data"]) == 102
    shown = (await get(f"/api/v1/directives/{directive_id}")).json()
    assert shown["counts"]["total"] == 5
    figure(
        f"an official in charge of {len(theirs)} communes: {listed['count']} of the directive's"
        f" 5 assignments listed, 404 for the other {5 - listed['count']}"
    )


async def test_an_empty_commune_code_on_a_province_wide_token_is_refused(
    api: ApiClient, engine: Engine
) -> None:
    def tokens() -> int:
        with Session(engine) as session:
            return len(list(session.scalars(select(ApiToken.id))))

    before = tokens()
    for role in ("steering_office", "reader"):
        answer = await api.request(
            "POST", "/api/v1/tokens", json={"role": role, "name": "x", "commune_code": ""}
        )
        assert (answer.status_code, answer.json()) == (
            422,
            {"detail": f"a {role} token is province-wide: leave commune_code out"},
        )
    assert tokens() == before


async def test_an_official_token_names_a_roster_official(api: ApiClient) -> None:
    for body, message in (
        (
            {"role": "official_in_charge", "name": "A"},
            "an official_in_charge token needs the email of the official on the roster",
        ),
        (
            {"role": "official_in_charge", "name": "A", "email": "nobody@example.invalid"},
            "no official in charge on the roster has the email nobody@example.invalid",
        ),
        (
            # A commune leader on the roster is not an official in charge.
            {"role": "official_in_charge", "name": "A", "email": "lanh-dao-24133@example.invalid"},
            "no official in charge on the roster has the email lanh-dao-24133@example.invalid",
        ),
        (
            {"role": "reader", "name": "A", "email": OFFICIAL},
            "email names an official in charge: a reader token takes none",
        ),
    ):
        refused = await api.request("POST", TOKENS, json=body)
        assert (refused.status_code, refused.json()) == (422, {"detail": message})


async def test_tokens_expire_record_their_last_use_and_are_audited(
    api: ApiClient, engine: Engine
) -> None:
    before = datetime.now(UTC)
    past = await api.request(
        "POST", TOKENS, json={"role": "reader", "name": "r", "expires_at": "2020-01-01T00:00:00Z"}
    )
    assert (past.status_code, past.json()) == (
        422,
        {"detail": "expires_at is in the past: give a time in the future"},
    )
    both = await api.request(
        "POST",
        TOKENS,
        json={
            "role": "reader",
            "name": "r",
            "expires_at": "2099-01-01T00:00:00Z",
            "expires_in_days": 3,
        },
    )
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    created = await api.request(
        "POST", TOKENS, json={"role": "reader", "name": "r", "expires_in_days": 30}
    )
    assert created.status_code == 201, created.text
    token, token_id = created.json()["token"], created.json()["id"]
    expires_at = datetime.fromisoformat(created.json()["expires_at"])
    assert before + timedelta(days=30) <= expires_at <= datetime.now(UTC) + timedelta(days=30)
    assert created.json()["last_used_at"] is None

    def last_used() -> datetime | None:
        with Session(engine) as session:
            return session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))

    for _ in range(5):
        assert (await api.request("GET", "/api/v1/directives", token=token)).status_code == 200
    first = last_used()
    assert first is not None and first >= before
    # Five requests within the minute: one write, the first.
    for _ in range(5):
        assert (await api.request("GET", "/api/v1/directives", token=token)).status_code == 200
    assert last_used() == first
    with Session(engine) as session, session.begin():
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(last_used_at=first - timedelta(minutes=2))
        )
    assert (await api.request("GET", "/api/v1/directives", token=token)).status_code == 200
    later = last_used()
    assert later is not None and later >= first
    listed = {t["id"]: t for t in (await api.request("GET", TOKENS)).json()["data"]}
    assert datetime.fromisoformat(listed[token_id]["last_used_at"]) == later

    with Session(engine) as session, session.begin():
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await api.request("GET", "/api/v1/directives", token=token)
    assert (expired.status_code, expired.json()) == (401, {"detail": "the token has expired"})
    assert expired.headers["www-authenticate"] == "Bearer"

    revoked = await api.request("DELETE", f"{TOKENS}/{token_id}")
    assert revoked.status_code == 204
    assert (await api.request("DELETE", f"{TOKENS}/{token_id}")).status_code == 204
    with Session(engine) as session:
        admin_id = session.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == hash_token(api.admin_token))
        )
        entries = list(
            session.execute(
                select(AuditEntry.actor, AuditEntry.action).where(
                    AuditEntry.subject == f"token:{token_id}"
                )
            )
        )
    # Revoking twice records one revocation.
    assert sorted(entries) == [
        (f"token:{admin_id}", "token.created"),
        (f"token:{admin_id}", "token.revoked"),
    ]
