"""Every dependency of every route runs on the event loop: FastAPI runs a plain `def`
dependency in a worker thread, a hop there and back on every request that names it. Three of
them (the settings, the thread sessions, an assignment's actions) were on the acknowledgement's
path, and that hop was a tenth of the API's CPU time in 102 concurrent acknowledgements."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from app import create_app
from config import Settings


def _routes(node: Any, visited: set[int]) -> Iterator[Any]:
    """Every route, through included routers (kept as `original_router`) and mounted apps."""
    if id(node) in visited:
        return
    visited.add(id(node))
    for attribute in ("routes", "router", "app", "original_router"):
        child = getattr(node, attribute, None)
        if isinstance(child, list):
            for route in child:
                yield route
                yield from _routes(route, visited)
        elif child is not None:
            yield from _routes(child, visited)


def _blocking(dependant: Any) -> Iterator[str]:
    for dependency in dependant.dependencies:
        call = dependency.call
        function = call if inspect.isroutine(call) else type(call).__call__
        if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
            yield f"{call.__module__}.{call.__qualname__}"
        yield from _blocking(dependency)


def test_no_route_depends_on_a_plain_function(tmp_path: Any) -> None:
    app = create_app(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/x.db"))
    routes = [r for r in _routes(app, set()) if getattr(r, "dependant", None) is not None]
    blocking = sorted({name for r in routes for name in _blocking(r.dependant)})
    assert len(routes) > 100
    assert blocking == []
