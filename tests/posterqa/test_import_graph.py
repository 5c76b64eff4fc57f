"""The project's import graph: the plain-library core imports no orchestration or web
framework, no module imports another's private names, and the module-level imports
between the project's own modules form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("detectors", "refiner", "storage", "catalog", "posterqa", "flows", "dashboard")
CORE = ("detectors", "refiner", "storage", "catalog")
FRAMEWORKS = ("prefect", "fastapi", "starlette", "uvicorn", "jinja2")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, *, top_level: bool) -> list[tuple[str, tuple[str, ...]]]:
    """(module, names) of every absolute import in ``path`` (``top_level``: only those
    run when the module loads, not the lazy ones inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, tuple(a.name for a in node.names)))
    return out


def test_the_core_imports_no_framework() -> None:
    bad = [(name, mod) for name, path in _modules().items()
           if name.split(".")[0] in CORE
           for mod, _names in _imports(path, top_level=False)
           if mod.split(".")[0] in FRAMEWORKS]
    assert bad == []


def test_no_module_imports_another_modules_private_names() -> None:
    mods = _modules()
    bad = [(name, mod, n) for name, path in mods.items()
           for mod, names in _imports(path, top_level=False)
           if mod in mods and mod != name
           for n in names if n.startswith("_") and not n.startswith("__")]
    assert bad == []


def test_module_level_imports_form_no_cycle() -> None:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps = set()
        for mod, names in _imports(path, top_level=True):
            # ``from pkg import module`` needs the module, not the package's own names
            subs = {f"{mod}.{n}" for n in names if f"{mod}.{n}" in mods}
            deps |= subs
            if mod in mods and (not names or len(subs) < len(names)):
                deps.add(mod)
        graph[name] = deps - {name}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle.extend(path[path.index(dep):] + [dep] if dep in path else [node, dep])
                return True
            if dep not in state and visit(dep, path + [dep]):
                return True
        state[node] = 2
        return False

    for node in sorted(graph):
        if node not in state and visit(node, [node]):
            break
    assert cycle == []
