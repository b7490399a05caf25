"""The import rule of docs/architecture.md, checked on the source (imports inside functions
count; imports under ``if TYPE_CHECKING:`` only for the layer rules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "agno_nb"

#: the layers above the core: they use it, it never uses them
APPS = ("agno_nb.jupyter", "agno_nb.runtime", "agno_nb.export", "agno_nb.cli")
#: consumers of the core that the core does not need either
CONSUMERS = ("agno_nb.analytics", "agno_nb.testing")
#: leaves: plain data, rules and standard-library helpers; they import no engine module
DATA = (
    "agno_nb.approvals",
    "agno_nb.events",
    "agno_nb.exceptions",
    "agno_nb.messages",
    "agno_nb.pricing",
    "agno_nb.run",
    "agno_nb.spans",
    "agno_nb.tools",
    "agno_nb._lazy",
    "agno_nb._scrub",
    "agno_nb._tool_json",
    "agno_nb._tool_threads",
    "agno_nb._version",
)
#: what runs things: the loop, the agent, the desk, stores, models, tracing, MCP
ENGINE = (
    "agno_nb.agent",
    "agno_nb._loop",
    "agno_nb._runspec",
    "agno_nb._runs",
    "agno_nb.desk",
    "agno_nb.storage",
    "agno_nb.models",
    "agno_nb.tracing",
    "agno_nb._otlp",
    "agno_nb.mcp",
    "agno_nb._mcp_runtime",
    "agno_nb._yaml",
    "agno_nb._yaml_build",
    "agno_nb._portal",
    "agno_nb._calls",
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The agno_nb module ``name`` (a module or a name inside one) refers to."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in MODULES:
            return ".".join(parts)
        parts.pop()
    return None


def _imports(module: str, *, type_checking: bool) -> set[str]:
    """The agno_nb modules ``module`` imports, at any depth of its code."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(sub) for sub in ast.walk(node))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            target = _target(name) if name.startswith("agno_nb") else None
            if target is not None and target != module:
                found.add(target)
    return found


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


CORE = sorted(m for m in MODULES if m != "agno_nb" and not _in(m, APPS + CONSUMERS))


@pytest.mark.parametrize("module", CORE)
def test_the_core_never_imports_jupyter_runtime_export_or_consumers(module: str) -> None:
    above = sorted(t for t in _imports(module, type_checking=True) if _in(t, APPS + CONSUMERS))
    assert above == [], f"{module} imports {above}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, DATA)))
def test_data_modules_import_no_engine_module(module: str) -> None:
    engine = sorted(t for t in _imports(module, type_checking=False) if _in(t, ENGINE))
    assert engine == [], f"{module} (data) imports {engine}"


def test_every_core_module_is_data_or_engine() -> None:
    """A new core module names its layer here (and in docs/architecture.md)."""
    assert [m for m in CORE if not _in(m, DATA + ENGINE)] == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
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
    return found


def test_no_import_cycle_among_core_modules() -> None:
    graph = {m: {t for t in _imports(m, type_checking=False) if t in CORE} for m in CORE}
    cycles = _cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
