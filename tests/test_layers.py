"""Imports point down only, and no module of src/eal takes part in an import cycle.

The layers, lowest first (a module may import its own layer and the ones below):

0. runtime/kit/db: configuration, errors, logging, kit, db, geo, the runtime
1. api/auth: the HTTP edge, keys and scopes, the job system, vendor clients
2. events: recording, the catalog, delivery bodies
3. domains: organizations, leads, weather, webhooks, audit, ...
4. entry points: the app, the console, the worker, the CLI, bootstrap, operator tasks

TYPE_CHECKING imports count: they are dependencies of the design too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "eal"

LAYERS: dict[str, int] = {
    "eal": 0,
    "eal.config": 0,
    "eal.errors": 0,
    "eal.logging": 0,
    "eal.metrics": 0,
    "eal.kit": 0,
    "eal.db": 0,
    "eal.geo": 0,
    "eal.runtime": 0,
    "eal.api": 1,
    "eal.auth": 1,
    "eal.jobs": 1,
    "eal.integrations": 1,
    "eal.ai": 1,
    "eal.events": 2,
    "eal.apikeys": 3,
    "eal.organizations": 3,
    "eal.leads": 3,
    "eal.weather": 3,
    "eal.webhooks": 3,
    "eal.audit": 3,
    "eal.outreach": 3,
    "eal.calls": 3,
    "eal.content": 3,
    "eal.reviews": 3,
    "eal.prospects": 3,
    "eal.claims": 3,
    "eal.storage": 0,
    "eal.places": 0,
    "eal.app": 4,
    "eal.console": 4,
    "eal.worker": 4,
    "eal.cli": 4,
    "eal.bootstrap": 4,
    "eal.rotation": 4,
}
LAYER_NAMES = ("runtime/kit/db", "api/auth", "events", "domains", "entry points")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if "migrations" in parts:
            continue  # Alembic's scripts are loaded by Alembic, not imported
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the eal modules it imports (resolved to modules that exist)."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from eal import events` imports the module eal.events.
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            for target in targets:
                if not target.startswith("eal"):
                    continue
                found = resolve(target)
                if found is not None and found != module:
                    graph[module].add(found)
    return graph


def _layer(module: str) -> int | None:
    name = module
    # The package itself is placed; its unlisted children are not placed by it.
    while name and name != "eal":
        if name in LAYERS:
            return LAYERS[name]
        name = name.rpartition(".")[0]
    return LAYERS["eal"] if module == "eal" else None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in _modules() if _layer(m) is None)
    assert not unplaced, f"give these a layer in tests/test_layers.py LAYERS: {unplaced}"


def test_imports_point_down_only() -> None:
    graph = _imports(_modules())
    upward = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            mine, theirs = _layer(module), _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(
                    f"{module} ({LAYER_NAMES[mine]}) imports {target} ({LAYER_NAMES[theirs]})"
                )
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    cycles = _cycles(_imports(_modules()))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checks_can_fail() -> None:
    # A made-up graph with a cycle and an upward edge: both are found.
    graph = {"eal.kit.a": {"eal.leads.x"}, "eal.leads.x": {"eal.kit.a"}}
    assert _cycles(graph) == [["eal.kit.a", "eal.leads.x"]]
    assert _layer("eal.leads.x") == 3 and _layer("eal.kit.a") == 0
    assert _layer("eal.somewhere_new") is None


def test_every_folder_of_modules_is_a_regular_package() -> None:
    """A folder without `__init__.py` is a namespace package: setuptools' package finder
    leaves it out of the wheel, and the worker's task discovery does not see it."""
    missing = [
        str(folder.relative_to(SRC.parent))
        for folder in SRC.rglob("*")
        if folder.is_dir()
        and "__pycache__" not in folder.parts
        and any(folder.glob("*.py"))
        and not (folder / "__init__.py").exists()
    ]
    assert missing == []


def test_the_worker_runs_every_domains_tasks() -> None:
    from eal.worker.runner import import_task_modules

    found = set(import_task_modules())
    expected = {f"eal.{p.parent.name}.tasks" for p in SRC.glob("*/tasks.py")}
    assert expected <= found and "eal.calls.tasks" in found
