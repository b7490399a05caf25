"""Write the kept statements out as ``agent.py``: cell by cell, in notebook order, with a
comment naming each source cell and each left-out line, secrets swapped for
``os.environ`` lookups and unused names dropped from imports. A credential left in what is
written (a comment, a docstring, part of a string) is a problem, unless ``allowed`` names
its kind or its CELL:LINE: then it is copied, with a warning."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Collection
from dataclasses import dataclass, field

from agno_nb.export._cells import Cell, Statement
from agno_nb.export._credentials import Finding, scan_code, scan_text
from agno_nb.export._secrets import Secret, scan_secrets
from agno_nb.export._slice import CellSlice, Slice

__all__ = ["AgentModule", "render"]

_RULE = 88


@dataclass(slots=True)
class AgentModule:
    text: str
    secrets: list[Secret] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    literals: set[str] = field(default_factory=set)  # the secret values: never written
    allowed: list[str] = field(default_factory=list)  # credentials copied: --allow-secret

    @property
    def env_names(self) -> list[str]:
        return sorted({s.env for s in self.secrets})


def _splice(lines: list[str], edits: list[tuple[int, int, int, int, str]]) -> list[str]:
    """Apply (line, byte col, end line, end byte col, text) edits, last first."""
    encoded = [line.encode() for line in lines]
    for line, col, end_line, end_col, text in sorted(edits, reverse=True):
        head = encoded[line - 1][:col]
        tail = encoded[end_line - 1][end_col:]
        encoded[line - 1 : end_line] = [head + text.encode() + tail]
    return b"\n".join(encoded).decode().split("\n")


def _without(node: ast.Import | ast.ImportFrom, unused: set[str]) -> str:
    names = [a for a in node.names if (a.asname or a.name.split(".")[0]) not in unused]
    if isinstance(node, ast.ImportFrom):
        return ast.unparse(ast.ImportFrom(module=node.module, names=names, level=node.level))
    return ast.unparse(ast.Import(names=names))


def _statement_lines(
    part: CellSlice, statement: Statement, lines: list[str], found: list[Secret]
) -> list[str]:
    node = statement.node
    if id(node) in part.unused_imports and isinstance(node, ast.Import | ast.ImportFrom):
        return [_without(node, part.unused_imports[id(node)])]
    first = statement.first
    block = lines[first - 1 : statement.last]
    edits = [
        (s.node.lineno - first + 1, s.node.col_offset, (s.node.end_lineno or 0) - first + 1,
         s.node.end_col_offset or 0, f'os.environ["{s.env}"]')
        for s in found
    ]  # fmt: skip
    return _splice(block, edits) if edits else block


def _gap(lines: list[str], previous: int, first: int) -> list[str]:
    """The lines between two statements (blank lines and comments), as written."""
    return lines[previous : first - 1]


def _cell_block(
    part: CellSlice, module: AgentModule, seen: dict[str, str], allowed: Collection[str]
) -> list[str]:
    cell = part.cell
    written: set[int] = set()  # the lines of the cell that agent.py gets
    swapped: list[Secret] = []
    lines = cell.python.split("\n")
    title = f"# --- {cell.label} "
    out = [title + "-" * max(3, _RULE - len(title))]
    left_out = {id(s.node): reason for s, reason in part.left_out}
    order = sorted([*part.kept, *(s for s, _ in part.left_out)], key=lambda s: s.first)
    previous = 0
    for statement in order:
        out.extend(_gap(lines, previous, statement.first))
        written.update(range(previous + 1, statement.first))
        reason = left_out.get(id(statement.node))
        if reason is not None:
            out.append(f"# (left out line {statement.first}: {reason})")
            previous = statement.last
            continue
        scan = scan_secrets(statement.node, f"{cell.label}, line {statement.first}", seen)
        module.secrets.extend(scan.secrets)
        module.literals.update(str(s.node.value) for s in scan.secrets)
        if any(s.drop_statement for s in scan.secrets):
            names = ", ".join(sorted({s.env for s in scan.secrets}))
            out.append(f"# (left out line {statement.first}: sets {names}: see .env.example)")
            previous = statement.last
            continue
        out.extend(_statement_lines(part, statement, lines, scan.secrets))
        written.update(range(statement.first, statement.last + 1))
        swapped += scan.secrets
        previous = statement.last
    _credentials_left(cell, written, swapped, module, allowed)
    return out


def _credentials_left(
    cell: Cell, written: set[int], swapped: list[Secret], module: AgentModule,
    allowed: Collection[str],
) -> None:  # fmt: skip
    """Refuse (or, if allowed, warn about) each credential on the written lines that is
    not one of the literals swapped for an ``os.environ`` lookup."""
    if cell.cell_magic is not None and cell.cell_magic[0] == "agent_def":
        found = scan_text(cell.source, "the %%agent_def YAML")  # notebook lines, not python's
    else:
        found = scan_code(cell.python, written)
    spans = [
        ((s.node.lineno, s.node.col_offset), (s.node.end_lineno or 0, s.node.end_col_offset or 0))
        for s in swapped
    ]
    for finding in found:
        if any(first <= finding.start < last for first, last in spans):
            continue
        let_through, message = _credential_message(cell, finding, allowed)
        (module.allowed if let_through else module.problems).append(message)


def _credential_message(cell: Cell, finding: Finding, allowed: Collection[str]) -> tuple[bool, str]:
    """Whether ``allowed`` lets ``finding`` through, and what to say (never the secret)."""
    where = f"{cell.label}, line {finding.line}"
    what = f"{finding.shape.label} ({finding.shown}) in {finding.place}"
    location = f"{cell.position}:{finding.line}"
    for key in (location, finding.shape.kind):
        if key in allowed:
            return True, f"{where}: {what} is copied as written (--allow-secret {key})"
    return False, (
        f"{where}: {what}; nothing is written. Remove it from the notebook and read it "
        f'from the environment (os.environ["{finding.shape.env}"]); if it is a published '
        f"example, not a secret, pass --allow-secret {location}"
    )


def render(sliced: Slice, source: str, allowed: Collection[str] = ()) -> AgentModule:
    """``agent.py`` for ``sliced``; ``source`` names the notebook in the docstring;
    ``allowed``: the ``--allow-secret`` kinds and CELL:LINE locations."""
    from agno_nb import __version__

    module = AgentModule("")
    seen: dict[str, str] = {}
    blocks = [_cell_block(part, module, seen, allowed) for part in sliced.cells]
    labels = ", ".join(p.cell.label for p in sliced.cells)
    about = (
        f"Code cells, in notebook order: {labels}. Display-only lines, agent runs, notebook "
        "magics and unused imports are left out (noted where they were); hard-coded secrets "
        "are read from the environment (see .env.example)."
    )
    head = [
        f'"""Agent {sliced.name!r}, exported from {source} by agno-nb {__version__}.',
        "",
        *textwrap.wrap(about, width=_RULE),
        '"""',
        "",
    ]
    if module.secrets:
        head.append("import os  # hard-coded secrets are read from the environment")
    body = ["\n".join(block) for block in blocks]
    module.text = "\n".join(head) + "\n" + "\n\n\n".join(body).rstrip() + "\n"
    try:
        compile(module.text, "agent.py", "exec")
    except SyntaxError as exc:  # pragma: no cover - a slicing bug, reported, not written
        problem = f"the exported agent.py does not compile: line {exc.lineno}: {exc.msg}"
        module.problems.append(problem)
    return module
