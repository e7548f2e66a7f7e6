"""Unknown and read-only fields in request bodies (`status`, `score`, `commune_code`, `id`):
every POST/PATCH/PUT operation of the OpenAPI document that takes a JSON body refuses each
one it does not declare with 422 (`extra_forbidden` at that field), and the database is
unchanged, byte for byte, afterwards. Fields an operation declares (`commune_code` of a token)
are writable by design and left out."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app import create_app
from config import Settings
from db.models import Base
from tests.conftest import ApiClient

pytestmark = pytest.mark.security

INJECTED: dict[str, Any] = {"status": "completed", "score": 100, "commune_code": "24121", "id": 1}


BOOKKEEPING = ("api_tokens", "last_used_at")
# Rate counts count every request, refused or not: that is their purpose, not a change made.
COUNTED = "rate_counts"


def database_digest(engine: Engine) -> str:
    digest = hashlib.sha256()
    with Session(engine) as session:
        for table in Base.metadata.sorted_tables:
            if table.name == COUNTED:
                continue
            # A token's last use is bookkeeping of the requests themselves, not a change made.
            columns = [c for c in table.columns if (table.name, c.name) != BOOKKEEPING]
            query = select(*columns).order_by(*table.primary_key.columns)
            rows = session.execute(query).all()
            digest.update(f"{table.name}:{sorted(map(repr, rows))}".encode())
    return digest.hexdigest()


def operations_with_bodies() -> list[tuple[str, str, set[str]]]:
    spec = create_app(Settings()).openapi()
    schemas = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if method not in {"post", "patch", "put"} or "application/json" not in content:
                continue
            schema = content["application/json"]["schema"]
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
            found.append((method.upper(), path, set(schema.get("properties", {}))))
    return found


def fill(path: str) -> str:
    for name, value in {"{commune_code}": "24133", "{code}": "1.000001"}.items():
        path = path.replace(name, value)
    # Every other path parameter is an integer id: validation runs before any lookup.
    while "{" in path:
        start = path.index("{")
        path = path[:start] + "1" + path[path.index("}") + 1 :]
    return path


async def test_undeclared_fields_are_refused_and_change_nothing(
    api: ApiClient, engine: Engine, figure: Callable[[str], None]
) -> None:
    tokens = [
        api.admin_token,
        await api.token("official_in_charge"),
        await api.token("commune_leader", "24133"),
    ]
    operations = operations_with_bodies()
    before = database_digest(engine)
    statuses: Counter[int] = Counter()
    accepted: list[str] = []
    declared = 0
    for method, path, properties in operations:
        for field, value in INJECTED.items():
            if field in properties:
                declared += 1
                continue
            # The first role the operation lets through: its refusal must be the field's.
            for token in tokens:
                answer = await api.request(method, fill(path), token=token, json={field: value})
                if answer.status_code not in {401, 403}:
                    break
            statuses[answer.status_code] += 1
            refused = answer.status_code == 422 and any(
                e["type"] == "extra_forbidden" and e["loc"] == ["body", field]
                for e in answer.json().get("errors", [])
            )
            if not refused:
                accepted.append(f"{method} {path} {field}: {answer.status_code} {answer.text}")
    n = sum(statuses.values())
    after = database_digest(engine)
    figure(
        f"{n} requests with an undeclared field over {len(operations)} operations "
        f"({declared} declared fields left out): {dict(statuses)}; "
        f"{len(accepted)} accepted; database {'unchanged' if after == before else 'CHANGED'}"
    )
    assert accepted == [], "\n".join(accepted)
    assert after == before
    assert n >= 3 * len(operations) >= 60
