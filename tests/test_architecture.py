"""The package's shape: no import cycles inside ``toolkit`` and no module importing another's private
name. Every import counts (module level, inside functions, and type-only ones under TYPE_CHECKING)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "toolkit"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _base(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


def _owner(name: str) -> str | None:
    """The toolkit module a dotted name lives in (the longest known prefix)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> Iterator[tuple[str, str | None]]:
    """(imported module, imported name or None) for every import in ``module``."""
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full, None) if full in MODULES else (base, alias.name)


def _graph() -> dict[str, set[str]]:
    """Module -> the toolkit modules it imports."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, _ in _imports(module):
            owner = _owner(target) if target.startswith("toolkit") else None
            if owner is not None and owner != module:
                graph[module].add(owner)
    return graph


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def test_the_import_graph_of_toolkit_has_no_cycle() -> None:
    graph = _graph()
    reach = {m: _reach(graph, m) for m in graph}
    cycles = {frozenset({m} | {n for n in reach[m] if m in reach[n]}) for m in graph if m in reach[m]}
    assert sorted(sorted(c) for c in cycles) == [], "import cycles"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_private_name_of_another(module: str) -> None:
    private = [
        f"{target}.{name}"
        for target, name in _imports(module)
        if target.startswith("toolkit")
        and name
        and name.startswith("_")
        and not name.startswith("__")
        and _owner(target) != module
    ]
    assert private == [], f"{module} imports private names: {private}"


def test_the_core_does_not_import_the_demo() -> None:
    graph = _graph()
    core = [m for m in MODULES if not m.startswith(("toolkit.demo", "toolkit.sample"))]
    reach = {m: _reach(graph, m) for m in core}
    assert {
        m: sorted(d for d in r if d.startswith("toolkit.demo"))
        for m, r in reach.items()
        if any(d.startswith("toolkit.demo") for d in r)
    } == {}


def test_the_readme_map_names_every_module_of_the_tree() -> None:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    development = readme[readme.index("## Development") :]
    rows = [line.split("|")[1] for line in development.splitlines() if line.startswith("| `")]
    named = {name for cell in rows for name in re.findall(r"`([\w/]+)`", cell)}
    tree = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    tree |= {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert (sorted(tree - named), sorted(named - tree)) == ([], [])
