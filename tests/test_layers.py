"""Dependencies between the product's packages go one way. The README's "How the pieces fit"
draws the picture; this test holds the code to it, reading the imports of every product module
(including those inside functions and `TYPE_CHECKING` blocks: a cycle hidden in a function is a
cycle still)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Not product code: the suite, the benchmark, data and deployment files.
NOT_PRODUCT = {"tests", "bench", "var", "templates", "deploy", "build", "docs"}
# The layers, lowest first, as the README's "How the pieces fit" lists them: a unit imports only
# units of lower layers. Two units of one layer never import each other (the API and the pages
# above all), and a new top-level package must be placed here before it can be imported.
LAYERS: list[set[str]] = [
    {"vocabulary", "config", "secret_files", "logs", "tracing", "sandbox_code"},
    {"db", "temporal_client"},
    {"scoring", "workflows"},
    {"activities"},
    {"services"},
    {"serving"},
    {"api", "web"},
    {"app", "worker", "migrate", "accounts_cli"},
    {"run"},
]
# The vocabulary is imported inside the workflow sandbox: the standard library and the holiday
# tables of the working-day calendar, nothing else.
VOCABULARY_MAY_IMPORT = {"holidays"}


def product_units() -> dict[str, list[Path]]:
    """Each top-level package or module of the product, with its Python files."""
    units: dict[str, list[Path]] = {}
    for entry in sorted(ROOT.iterdir()):
        if entry.name.startswith(".") or entry.name in NOT_PRODUCT:
            continue
        if entry.is_dir() and (entry / "__init__.py").exists():
            units[entry.name] = sorted(
                p for p in entry.rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts
            )
        elif entry.suffix == ".py" and entry.name != "conftest.py":
            units[entry.stem] = [entry]
    return units


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def package_graph() -> dict[str, dict[str, str]]:
    """For each unit, the other units it imports, each with one file that does (for messages)."""
    units = product_units()
    graph: dict[str, dict[str, str]] = {name: {} for name in units}
    for name, files in units.items():
        for path in files:
            for module in imported_modules(path):
                top = module.split(".")[0]
                if top in units and top != name:
                    graph[name].setdefault(top, str(path.relative_to(ROOT)))
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(unit: str) -> None:
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        on_stack.add(unit)
        for other in graph[unit]:
            if other not in index:
                visit(other)
                low[unit] = min(low[unit], low[other])
            elif other in on_stack:
                low[unit] = min(low[unit], index[other])
        if low[unit] == index[unit]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == unit:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for unit in graph:
        if unit not in index:
            visit(unit)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, str]]:
    return package_graph()


def test_the_graph_reads_every_product_package(graph: dict[str, dict[str, str]]) -> None:
    # The rules below are only as good as the graph: it must see the packages they name.
    assert {
        "vocabulary",
        "db",
        "scoring",
        "workflows",
        "activities",
        "services",
        "api",
        "web",
    } <= set(graph)
    assert "vocabulary" in graph["db"]
    assert "db" in graph["api"]


def test_no_two_packages_import_each_other_even_through_others(
    graph: dict[str, dict[str, str]],
) -> None:
    assert cycles(graph) == []


def test_every_unit_imports_only_units_of_lower_layers(graph: dict[str, dict[str, str]]) -> None:
    layer_of = {unit: level for level, units in enumerate(LAYERS) for unit in units}
    assert set(graph) - set(layer_of) == set(), "place each new package in LAYERS"
    upward = {
        f"{unit} -> {other} ({where})"
        for unit, imports in graph.items()
        for other, where in imports.items()
        if layer_of[other] >= layer_of[unit]
    }
    assert upward == set()


def test_the_vocabulary_imports_nothing_of_the_product(graph: dict[str, dict[str, str]]) -> None:
    assert graph["vocabulary"] == {}


def test_the_vocabulary_is_safe_inside_the_workflow_sandbox() -> None:
    outside = {
        (module, str(path.relative_to(ROOT)))
        for path in product_units()["vocabulary"]
        for module in imported_modules(path)
        if module.split(".")[0] not in sys.stdlib_module_names
        and module.split(".")[0] not in VOCABULARY_MAY_IMPORT | {"vocabulary"}
    }
    assert outside == set()


def test_storage_imports_only_the_vocabulary_and_settings(graph: dict[str, dict[str, str]]) -> None:
    assert set(graph["db"]) <= {"vocabulary", "config"}, graph["db"]


def test_the_api_and_the_pages_never_import_each_other(graph: dict[str, dict[str, str]]) -> None:
    assert "web" not in graph["api"], graph["api"]
    assert "api" not in graph["web"], graph["web"]


def test_the_api_and_the_pages_reach_workflows_only_through_the_services(
    graph: dict[str, dict[str, str]],
) -> None:
    assert "workflows" not in graph["api"], graph["api"]
    assert "workflows" not in graph["web"], graph["web"]


def test_the_services_know_nothing_of_http() -> None:
    http = {"fastapi", "starlette", "api", "web"}
    found = {
        (module, str(path.relative_to(ROOT)))
        for path in product_units()["services"]
        for module in imported_modules(path)
        if module.split(".")[0] in http
    }
    assert found == set()


def test_a_cycle_is_found_when_there_is_one() -> None:
    # The detector itself: two packages importing each other through a third.
    assert cycles({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}) == [
        ["a", "b", "c"]
    ]
    assert cycles({"a": {"b": ""}, "b": {}}) == []
