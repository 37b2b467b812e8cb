"""The package's layers (ARCHITECTURE.md): imports go down only, and no module imports itself back.

Every import counts, the lazy ones inside functions included: a lazy loop is still a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_clipshift"
LAYERS = {"demo": 0, "core": 1, "gate": 2, "report": 3, "integration": 4}
TOP = 5  # cli.py and the package's __init__ (the lazy public API) may use any layer


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The package modules ``path`` imports (resolved; ``from . import x`` names module x)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("pytest_clipshift"):
                continue
            for alias in node.names:  # "from .core import metrics" imports a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("pytest_clipshift")}
    return {m for m in found if m != name and _exists(m)}


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").exists() or (PACKAGE / rel / "__init__.py").exists()


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "cli":
        return TOP
    return LAYERS.get(parts[1], TOP)


GRAPH = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_belongs_to_a_layer():
    loose = [m for m in GRAPH if _layer(m) == TOP and m not in ("pytest_clipshift", "pytest_clipshift.cli")]
    assert not loose, f"modules outside every layer: {loose}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_down_only(module):
    upward = sorted(t for t in GRAPH[module] if _layer(t) > _layer(module))
    assert not upward, f"{module} (layer {_layer(module)}) imports from a higher layer: {upward}"


def test_no_import_loops():
    # Tarjan's strongly connected components over module -> module edges
    index, low, stack, on_stack, loops = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not loops, f"import loops: {loops}"


# the demo's own features: its scenes as an image set, their labels as zero-shot prompts. Loading a
# real model never reaches the demo package (its training script, its vocabulary writer)
DEMO_USERS = {
    "pytest_clipshift.core.data.images": {"pytest_clipshift.demo.scenes"},
}


def test_only_the_demo_features_import_the_demo_package():
    users = {
        module: {t for t in targets if t.startswith("pytest_clipshift.demo")}
        for module, targets in GRAPH.items()
        if not module.startswith("pytest_clipshift.demo")
    }
    assert {m: t for m, t in users.items() if t} == DEMO_USERS


def _private_reaches(path: Path) -> list[str]:
    """``from .x import _name`` and ``x._name`` on a module of ours imported by name."""
    tree = ast.parse(path.read_text())
    ours, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("pytest_clipshift")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"from {node.module} import {alias.name}")
                ours.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        private = isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
        if private and isinstance(node.value, ast.Name) and node.value.id in ours:
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return found


def test_no_module_reaches_into_another_modules_private_names():
    reaches = {str(p.relative_to(PACKAGE)): r for p in PACKAGE.rglob("*.py") if (r := _private_reaches(p))}
    assert not reaches, reaches


MAX_MODULES_PER_FOLDER = 12  # a folder of more is a package waiting to be split


def test_no_package_folder_holds_more_than_twelve_modules():
    folders = {p.parent for p in PACKAGE.rglob("*.py")}
    crowded = {
        str(f.relative_to(PACKAGE)): n
        for f in folders
        if (n := sum(1 for m in f.glob("*.py") if m.name != "__init__.py")) > MAX_MODULES_PER_FOLDER
    }
    assert not crowded, crowded


def test_the_checker_sees_a_planted_loop_and_an_upward_import(tmp_path, monkeypatch):
    """The checks above would pass on an empty graph: show that they catch the faults they guard."""
    planted = dict(GRAPH)
    planted["pytest_clipshift.core.data.images"] = GRAPH["pytest_clipshift.core.data.images"] | {
        "pytest_clipshift.gate.budgets"
    }
    planted["pytest_clipshift.gate.budgets"] = GRAPH["pytest_clipshift.gate.budgets"] | {
        "pytest_clipshift.core.data.images"
    }
    monkeypatch.setattr(__import__(__name__, fromlist=["GRAPH"]), "GRAPH", planted)
    with pytest.raises(AssertionError, match="higher layer"):
        test_imports_go_down_only("pytest_clipshift.core.data.images")
    with pytest.raises(AssertionError, match="import loops"):
        test_no_import_loops()


def test_the_engine_and_the_session_name_no_metric():
    """What a metric needs (layers kept, draws, labels, captions) is declared on its ``Metric``; the
    code that plans a run reads the declarations instead of naming metrics."""
    from pytest_clipshift.core.metrics.builtin import BUILTIN

    names = {m.name for m in BUILTIN}
    planning = ["core/measure/engine.py", "core/measure/plan.py", "integration/preflight.py"]
    for module in planning + [str(p.relative_to(PACKAGE)) for p in (PACKAGE / "integration" / "run").glob("*.py")]:
        tree = ast.parse((PACKAGE / module).read_text())
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert not strings & names, (module, strings & names)
