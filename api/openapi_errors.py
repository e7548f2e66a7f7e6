"""Which errors each operation of the API answers, declared in its OpenAPI document: clients are
generated from `/openapi.json`, and a status it does not declare, or a body of another shape,
breaks them.

The statuses follow from the operation itself, so a new route is documented without a word of
its own:
- a request body: 400 (not JSON), 413 (larger than the limit) and 422;
- any parameter: 422 (it does not fit, or holds a number beyond 64 bits);
- a path parameter, or a query parameter naming an object (`…_id`, `…_code`): 404;
- a bearer token: 401 (none, unknown, revoked or expired) and 403 (the role or commune may not);
- a write (POST, PUT, PATCH, DELETE): 409 (the object's state refuses it, or it collides);
- a rate limit among its dependencies: 429 with Retry-After;
- the database or Temporal among its dependencies: 503.
Open311 operations answer 400, 403, 404 and 429 in the GeoReport shape their spec defines.
FastAPI's default 422 body (`HTTPValidationError`, whose `detail` is a list) is replaced by the
body the API really sends (`ErrorBody`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from api import rate_limits
from api.error_schemas import ErrorBody, GeoReportError
from serving.deps import get_session, get_temporal

WRITES = {"post", "put", "patch", "delete"}
NAMES_AN_OBJECT = ("_id", "_code")
OPEN311_TAG = "open311"
GEOREPORT_STATUSES = {400, 403, 404, 429}
# Rate limits a route takes inside its body rather than as a dependency: the receipt-code
# lookups count the wrong codes only, which a dependency cannot know before the lookup.
LIMITED_INSIDE = {"/api/v1/lookup/{code}", "/api/v1/lookup/{code}/rating"}
DESCRIPTIONS = {
    400: "The body is not valid JSON (Open311: a parameter is wrong)",
    401: "No bearer token, or one that is unknown, revoked or expired",
    403: "The token's role or commune may not do this",
    404: "Nothing has this id or code, or the token may not see it",
    409: "The object's state refuses the action, or the action collides with another",
    413: "The body is larger than the limit",
    422: (
        "The request does not fit the schema, or names what cannot be, or repeats an"
        " Idempotency-Key with a different request"
    ),
    429: "Too many requests; try again after Retry-After seconds",
    503: "The database or the workflow engine does not answer; nothing changed, try again",
}
HEADERS = {
    401: {"WWW-Authenticate": "Bearer"},
    429: {"Retry-After": "seconds to wait before trying again"},
    503: {"Retry-After": "seconds to wait, when the database is the one not answering"},
}


def document(app: FastAPI) -> None:
    """Build the OpenAPI document as FastAPI does (once, and again when routes were added),
    then declare every operation's errors in each document built."""
    build = app.openapi
    declared: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        if not declared or declared[-1] != id(schema):
            declare_errors(schema, app)
            declared[:] = [id(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def declare_errors(schema: dict[str, Any], app: FastAPI) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, GeoReportError):
        shown = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(shown.pop("$defs", {}))
        components[model.__name__] = shown
    # Routes as FastAPI's own document builder reads them: with the prefix, tags and
    # dependencies of every router they were included through.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = route.path_format or ""
        for method in route.methods or ():
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for code in statuses_of(route, method.lower(), operation):
                responses[str(code)] = _response(code, responses.get(str(code)), route)
    # Nothing refers to FastAPI's default validation body any more.
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def statuses_of(route: RouteContext, method: str, operation: dict[str, Any]) -> set[int]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    calls = set(_calls(route.dependant))
    answers: set[int] = set()
    if has_body:
        answers |= {400, 413, 422}
    if parameters:
        answers.add(422)
    if any(p["in"] == "path" or p["name"].endswith(NAMES_AN_OBJECT) for p in parameters):
        answers.add(404)
    if operation.get("security"):
        answers |= {401, 403}
    if method in WRITES:
        answers.add(409)
    if route.path_format in LIMITED_INSIDE or any(_is_rate_limit(c) for c in calls):
        answers.add(429)
    if get_session in calls or get_temporal in calls:
        answers.add(503)
    if OPEN311_TAG in route.tags:
        # The spec's own errors: a wrong parameter (400), a jurisdiction not served here or an
        # unknown id (404), and on a POST a missing api_key (403); its form-encoded body is read
        # by the route, so the schema shows none, but the body limit holds (413).
        answers |= {400, 404} | ({403, 413} if method in WRITES else set())
    return answers


def _response(code: int, declared: dict[str, Any] | None, route: RouteContext) -> dict[str, Any]:
    shape = (
        {"type": "array", "items": {"$ref": "#/components/schemas/GeoReportError"}}
        if OPEN311_TAG in route.tags and code in GEOREPORT_STATUSES
        else {"$ref": "#/components/schemas/ErrorBody"}
    )
    response = dict(declared or {})
    response.setdefault("description", DESCRIPTIONS[code])
    if code == 422 and response.get("description") == "Validation Error":
        response["description"] = DESCRIPTIONS[code]
    response["content"] = {"application/json": {"schema": shape}}
    if code in HEADERS:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in HEADERS[code].items()
        }
    return response


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _is_rate_limit(call: Callable[..., Any]) -> bool:
    return getattr(call, "__module__", None) == rate_limits.__name__
