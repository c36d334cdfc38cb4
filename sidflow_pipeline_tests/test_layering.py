"""Imports run one way: the layers CONTRIBUTING.md names, checked on the source.

Every import is read with ``ast`` — module level, inside functions and under
``TYPE_CHECKING`` alike: a lazy import still ties two packages together, it only
moves the cost. The units are the sub-packages of ``sidflow_pipeline`` and its
top-level modules (the neutral base everyone may use).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sidflow_pipeline"

# Lower numbers are lower layers; a unit imports only units of a strictly lower rank
# (or itself). The same five lines are in CONTRIBUTING.md.
BASE = 0
RANKS: dict[str, int] = {
    "sid": 1,
    "hvsc": 2, "demo": 2, "catalog": 2, "features": 2, "mastering": 2,
    "ratings": 3,
    "classify": 4, "feedback": 4,
    "training": 5, "recommend": 5,
    "lance": 6, "radio": 6, "search": 6,
    "cli": 7, "defs": 7,
    "definitions": 8,
}  # fmt: skip
# Only the Dagster layer may import Dagster (domain code runs without it).
DAGSTER_ALLOWED = ("defs", "definitions")


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str | None:
    """``sidflow_pipeline.hvsc.sync`` → ``hvsc``; a top-level module is its own unit."""
    parts = module.split(".")
    if parts[0] != "sidflow_pipeline" or len(parts) == 1:
        return None
    return parts[1]


def _rank(unit: str) -> int:
    return RANKS.get(unit, BASE)


def _imports(path: Path, root: Path = PACKAGE) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import statement in the file."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from sidflow_pipeline import layout` names a module
                yield node.lineno, f"{base}.{alias.name}"


def _sources(package: Path = PACKAGE) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def _module_exists(module: str, package: Path = PACKAGE) -> bool:
    relative = Path(*module.split(".")[1:])
    return (package / relative).with_suffix(".py").is_file() or (package / relative / "__init__.py").is_file()


def unit_edges(package: Path = PACKAGE) -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) → where: ``file:line``."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in _sources(package):
        source = _unit(_module_name(path, package))
        if source is None:
            continue
        for line, target in _imports(path, package):
            unit = _unit(target)
            if unit is None or unit == source or not _module_exists(target, package):
                continue
            edges.setdefault((source, unit), []).append(f"{path.relative_to(package.parent)}:{line}")
    return edges


def module_edges(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the package modules it imports (a package's ``__init__`` counts as itself)."""
    graph: dict[str, set[str]] = {}
    for path in _sources(package):
        name = _module_name(path, package)
        targets = graph.setdefault(name, set())
        for _line, target in _imports(path, package):
            if target.startswith("sidflow_pipeline.") and target != name and _module_exists(target, package):
                targets.add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
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
    return sorted(found)


def test_every_unit_has_a_layer() -> None:
    """A new package must be placed in a layer deliberately, not fall into the base."""
    units = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert units <= RANKS.keys(), f"add {sorted(units - RANKS.keys())} to RANKS (and CONTRIBUTING.md)"


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for source, target in unit_edges():
        graph.setdefault(source, set()).add(target)
    assert find_cycles(graph) == []


def test_no_cycle_between_modules() -> None:
    assert find_cycles(module_edges()) == []


def test_lower_layers_never_import_higher_ones() -> None:
    wrong = [
        f"{source} (layer {_rank(source)}) imports {target} (layer {_rank(target)}) at {', '.join(where)}"
        for (source, target), where in sorted(unit_edges().items())
        if _rank(target) >= _rank(source) and not (_rank(source) == BASE == _rank(target))
    ]
    assert wrong == []


def test_dagster_only_in_the_dagster_layer() -> None:
    wrong = []
    for path in _sources():
        unit = _unit(_module_name(path))
        if unit in DAGSTER_ALLOWED:
            continue
        for line, target in _imports(path):
            if target == "dagster" or target.startswith(("dagster.", "dagster_")):
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {target}")
    assert wrong == []


def _scan(tmp_path: Path, files: dict[str, str]) -> tuple[list[list[str]], list[list[str]]]:
    root = tmp_path / "sidflow_pipeline"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    units: dict[str, set[str]] = {}
    for source, target in unit_edges(root):
        units.setdefault(source, set()).add(target)
    return find_cycles(units), find_cycles(module_edges(root))


def test_the_checks_see_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The scan is only as good as what it parses: a cycle closed by an import inside a
    function is still a cycle, and relative imports resolve to the right module."""
    lazy = {
        "a/__init__.py": "", "a/x.py": "from sidflow_pipeline.b import y\n",
        "b/__init__.py": "", "b/y.py": "def f():\n    from sidflow_pipeline.a.x import z\n",
    }  # fmt: skip
    assert _scan(tmp_path / "lazy", lazy) == ([["a", "b"]], [["sidflow_pipeline.a.x", "sidflow_pipeline.b.y"]])
    relative = {"a/__init__.py": "", "a/x.py": "from . import y\n", "a/y.py": "from .x import q\n"}
    assert _scan(tmp_path / "relative", relative) == ([], [["sidflow_pipeline.a.x", "sidflow_pipeline.a.y"]])
