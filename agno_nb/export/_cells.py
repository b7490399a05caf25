"""Notebook cells as Python: read an ``.ipynb``, turn IPython syntax into calls, and find
what each top-level statement defines and uses.

IPython syntax (``%magic``, ``%%cell_magic``, ``!shell``, ``x = !cmd``, ``obj?``) is turned
into ``get_ipython().run_line_magic(...)`` and friends by IPython's own input
transformer when IPython is installed (so strings that merely contain ``%`` are left
alone), else by a line-based fallback. The calls are then ordinary AST nodes, which is
how the slicer tells a magic from code.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Cell", "Statement", "cells_from_sources", "magic_calls", "read_notebook"]

_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "get_ipython"}
_MAGIC_METHODS = {"run_line_magic", "run_cell_magic", "system", "getoutput"}
_LINE_MAGIC = re.compile(r"^(\s*)(?:(\w+)\s*=\s*)?([%!])(%?)(\S*)\s*(.*)$")


@dataclass(slots=True)
class Statement:
    """One top-level statement of a cell, with its lines (1-based, inclusive)."""

    node: ast.stmt
    first: int
    last: int
    defs: frozenset[str]
    uses: frozenset[str]
    magics: tuple[str, ...]  # e.g. ("%load_ext", "!pip")


@dataclass(slots=True)
class Cell:
    """A code cell: its place in the notebook, its source and its statements."""

    position: int  # 1-based, among all cells
    cell_id: str | None
    source: str
    python: str = ""
    statements: list[Statement] = field(default_factory=list)
    cell_magic: tuple[str, str, str] | None = None  # (name, line, body) of a %%magic cell
    error: str | None = None

    @property
    def label(self) -> str:
        return f"cell {self.position}" + (f" [{self.cell_id}]" if self.cell_id else "")

    @property
    def defs(self) -> frozenset[str]:
        return frozenset().union(*(s.defs for s in self.statements))

    def external_uses(self) -> set[str]:
        """Names the cell reads that it has not bound before (function bodies read
        globals when called: anything the whole cell binds is theirs)."""
        bound: set[str] = set()
        everything = self.defs
        found: set[str] = set()
        for statement in self.statements:
            is_def = isinstance(statement.node, ast.FunctionDef | ast.AsyncFunctionDef)
            found |= statement.uses - (everything if is_def else bound)
            bound |= statement.defs
        return found - _BUILTINS


def read_notebook(path: str | Path) -> list[Cell]:
    """The code cells of a notebook (nbformat 4 JSON), with their notebook positions."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError(f"{path} is not a Jupyter notebook (no 'cells' list)")
    sources: list[tuple[int, str | None, str]] = []
    for position, cell in enumerate(data["cells"], 1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        sources.append((position, cell.get("id"), text))
    return [_analyse(Cell(p, i, s)) for p, i, s in sources]


def cells_from_sources(sources: list[str]) -> list[Cell]:
    """Cells from plain sources (a kernel's input history), numbered in order."""
    return [_analyse(Cell(i, None, s)) for i, s in enumerate(sources, 1)]


def _transform(source: str) -> str:
    try:
        from IPython.core.inputtransformer2 import (  # type: ignore[import-untyped,unused-ignore]
            TransformerManager,
        )
    except ImportError:  # pragma: no cover - exercised without IPython only
        return _fallback_transform(source)
    manager = TransformerManager()  # type: ignore[no-untyped-call,unused-ignore]
    return str(manager.transform_cell(source))


def _fallback_transform(source: str) -> str:
    lines = source.splitlines()
    if lines and lines[0].startswith("%%"):
        name, _, line = lines[0][2:].partition(" ")
        body = "\n".join(lines[1:]) + "\n"
        return f"get_ipython().run_cell_magic({name!r}, {line!r}, {body!r})\n"
    out = []
    for text in lines:
        match = _LINE_MAGIC.match(text)
        if match is None:
            out.append(text)
            continue
        indent, target, sigil, _, name, rest = match.groups()
        if sigil == "!":
            method = "getoutput" if target else "system"
            call = f"get_ipython().{method}({(name + ' ' + rest).strip()!r})"
        else:
            call = f"get_ipython().run_line_magic({name!r}, {rest!r})"
        out.append(f"{indent}{target + ' = ' if target else ''}{call}")
    return "\n".join(out) + "\n"


def _analyse(cell: Cell) -> Cell:
    cell.python = _transform(cell.source)
    try:
        tree = compile(
            cell.python, cell.label, "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
    except SyntaxError as exc:
        cell.error = f"line {exc.lineno}: {exc.msg}"
        return cell
    body = tree.body
    if len(body) == 1 and (found := magic_calls(body[0])) and found[0][0] == "run_cell_magic":
        call = found[0][1]
        args = [a.value if isinstance(a, ast.Constant) else "" for a in call.args]
        if len(args) == 3:
            cell.cell_magic = (str(args[0]), str(args[1]), str(args[2]))
        if cell.cell_magic and cell.cell_magic[0] == "agent_def" and cell.cell_magic[1].split():
            return _agent_def(cell, cell.cell_magic[1].split()[0], cell.cell_magic[2])
    for node in body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        magics = tuple(_magic_label(kind, call) for kind, call in magic_calls(node))
        cell.statements.append(
            Statement(
                node,
                first,
                node.end_lineno or node.lineno,
                frozenset(bound_names(node)),
                frozenset(used_names(node)),
                magics,
            )
        )
    return cell


def _agent_def(cell: Cell, variable: str, body: str) -> Cell:
    """``%%agent_def VAR`` + YAML as the Python that builds the same agent; the statement
    uses the tools and output schema the YAML names."""
    text = repr(body)
    if '"""' not in body and "\\" not in body:
        text = '"""\\\n' + body + ("" if body.endswith("\n") else "\n") + '"""'
    cell.python = (
        f"import agno_nb  # %%agent_def {variable}\n"
        f"{variable} = agno_nb.Agent.from_yaml(\n"
        f"    {text},\n    globals(),\n    name={variable!r},\n)\n"
    )
    tree = ast.parse(cell.python)
    names = yaml_names(body)
    for node in tree.body:
        uses = used_names(node) | (names if isinstance(node, ast.Assign) else set())
        cell.statements.append(
            Statement(
                node,
                node.lineno,
                node.end_lineno or node.lineno,
                frozenset(bound_names(node)),
                frozenset(uses),
                (),
            )
        )
    return cell


def yaml_names(body: str) -> set[str]:
    """The namespace names an ``%%agent_def`` body refers to: tools and output_schema."""
    try:
        import yaml

        data = yaml.safe_load(body)
    except Exception:  # an invalid body: %%agent_def reports it in the notebook itself
        return set()
    if not isinstance(data, dict):
        return set()
    names = {str(t) for t in data.get("tools") or [] if isinstance(t, str)}
    if isinstance(data.get("output_schema"), str):
        names.add(data["output_schema"])
    return names


def magic_calls(node: ast.AST) -> list[tuple[str, ast.Call]]:
    """The ``get_ipython().<method>(...)`` calls in ``node``: (method, call)."""
    found = []
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in _MAGIC_METHODS
            and isinstance(sub.func.value, ast.Call)
            and isinstance(sub.func.value.func, ast.Name)
            and sub.func.value.func.id == "get_ipython"
        ):
            found.append((sub.func.attr, sub))
    return found


def _magic_label(kind: str, call: ast.Call) -> str:
    first = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else ""
    if kind in ("system", "getoutput"):
        return "!" + str(first).split(" ")[0]
    return ("%%" if kind == "run_cell_magic" else "%") + str(first)


# -- names ---------------------------------------------------------------------------------


def bound_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the module namespace (not in the bodies of
    the functions and classes it defines, nor in comprehensions)."""
    found: set[str] = set()

    def visit(sub: ast.AST) -> None:
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(sub.name)
            return
        if isinstance(
            sub, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
        ):
            return
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            found.add(sub.id)
        elif isinstance(sub, ast.Import | ast.ImportFrom):
            for alias in sub.names:
                if alias.name != "*":
                    found.add(alias.asname or alias.name.split(".")[0])
        elif (isinstance(sub, ast.ExceptHandler) and sub.name) or (
            isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name
        ):
            found.add(sub.name)
        for child in ast.iter_child_nodes(sub):
            visit(child)

    visit(node)
    return found


def used_names(node: ast.AST) -> set[str]:
    """Global names ``node`` reads, including in function bodies (read at call time)."""
    collector = _Uses()
    collector.visit(node)
    return collector.found


class _Uses(ast.NodeVisitor):
    """Loads of names that no enclosing function, lambda or comprehension binds."""

    def __init__(self) -> None:
        self.scopes: list[set[str]] = []
        self.found: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load | ast.Del) and not any(node.id in s for s in self.scopes):
            self.found.add(node.id)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name) and not any(node.target.id in s for s in self.scopes):
            self.found.add(node.target.id)
        self.generic_visit(node)

    def _function(self, node: Any, name: str | None) -> None:
        for decorator in getattr(node, "decorator_list", []):
            self.visit(decorator)
        args = node.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(default)
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        body = node.body if isinstance(node.body, list) else [node.body]
        local = params | _locals(body)
        self.scopes.append(local)
        for statement in body:
            self.visit(statement)
        self.scopes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node, node.name)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node, node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node, None)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for sub in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(sub)
        self.scopes.append(_locals(node.body))
        for statement in node.body:
            self.visit(statement)
        self.scopes.pop()

    def _comprehension(self, node: Any) -> None:
        targets = {
            n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)
        }
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        self.scopes.append(targets)
        for i, generator in enumerate(node.generators):
            if i:
                self.visit(generator.iter)
            for condition in generator.ifs:
                self.visit(condition)
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                self.visit(getattr(node, part))
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


def _locals(body: list[ast.stmt]) -> set[str]:
    """Names a function (or class) body binds, not counting nested scopes; ``global``
    names stay global."""
    found: set[str] = set()
    declared: set[str] = set()
    for statement in body:
        for sub in ast.walk(statement):
            if isinstance(sub, ast.Global | ast.Nonlocal):
                declared.update(sub.names)
        found |= bound_names(statement)
    return found - declared
