"""The package's layers: imports go one way and there are no import cycles.

Every ``import`` statement in molvae/ and cli/ counts, including those inside functions (they
run too, only later); imports under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Lower layers never import higher ones; the stages of layer 6 (what is built on a trained model)
# do not import each other.
LAYERS = {
    "molvae._version": 0,
    "molvae.errors": 0,
    "molvae.runtime": 0,
    "molvae.settings": 0,
    "molvae.chem": 1,
    "molvae.tokens": 1,
    "molvae.data": 2,
    "molvae.models": 3,
    "molvae.generation": 4,
    "molvae.training": 5,
    "molvae.latent": 6,
    "molvae.optimize": 6,
    "molvae.evaluation": 6,
    "molvae.screening": 6,
    "molvae.reporting": 7,
    "molvae": 8,  # the package's lazy top-level API
    "molvae_cli": 9,
}
PARALLEL = 6


def _modules() -> dict[str, Path]:
    out = {}
    for root, package in ((REPO / "molvae", "molvae"), (REPO / "cli", "molvae_cli")):
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((package, *parts))] = path
    return out


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skip: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    return skip


@lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a submodule import also runs its packages)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_nodes(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _component(module: str) -> str:
    return max((c for c in LAYERS if module == c or module.startswith(c + ".")), key=len)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    for module in _modules():
        assert _component(module), module


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_go_down_the_layers(module):
    graph = import_graph()
    here = _component(module)
    upward = [
        target
        for target in graph[module]
        if (there := _component(target)) != here
        and (
            LAYERS[there] > LAYERS[here]
            or LAYERS[there] == LAYERS[here] == PARALLEL
        )
    ]
    assert upward == [], f"{module} imports a module of a later or parallel stage"
