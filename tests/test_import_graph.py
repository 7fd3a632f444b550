"""The package's modules import each other without cycles (issue 22 item 5).

Every import counts, the ones inside functions and under `TYPE_CHECKING` too: a cycle hidden by a
lazy import still means two modules that cannot be read, tested or moved apart.
"""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "paramembed"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package modules `path` imports anywhere: `from a.b import c` counts as a.b.c when that is a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found & known


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    # A package's __init__ runs before its modules: importing a.b also imports a, which is not a cycle edge.
    return {name: {m for m in imported_modules(path, known) if not name.startswith(m + ".")} for name, path in files.items()}


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    assert "paramembed.config" in graph and graph["paramembed.training"]  # the walk found the package
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"import cycle: {' -> '.join(err.args[1])}") from None


def test_a_cycle_would_be_found():
    graph = {"a": {"b"}, "b": {"a"}}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("graphlib missed a two-module cycle")
