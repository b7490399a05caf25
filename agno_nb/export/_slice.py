"""Which cells an agent needs: find the agent, follow its names back through the
notebook, and keep what a service module may run at import.

The agent's cell and, transitively, the last earlier cell that defines each name it reads
(imports, tools, helpers, constants) are kept, in notebook order. In the kept cells,
statements that only display something, run an agent, or are harmless notebook magics
(``%load_ext``, ``%matplotlib``, ...) are left out, as are imports nobody uses. What cannot
be exported is collected, every problem at once: a name no earlier cell defines (hidden
state), a needed cell that uses magics, an agent name that is ambiguous or not found.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from agno_nb.export._cells import Cell, Statement

__all__ = ["CellSlice", "Slice", "find_agent", "slice_cells"]

HARMLESS_MAGICS = frozenset(
    {"load_ext", "reload_ext", "matplotlib", "config", "autoreload", "aimport", "pip", "conda",
     "precision", "pprint", "xmode", "pinfo", "pinfo2"}
)  # fmt: skip
RUN_METHODS = frozenset(
    {"run", "arun", "print_response", "aprint_response", "continue_run", "acontinue_run"}
)
DISPLAY_CALLS = frozenset({"print", "display", "pprint", "display_markdown", "display_html"})
NOTEBOOK_ONLY = frozenset({"display", "In", "Out", "_", "__", "___", "exit", "quit"})


@dataclass(slots=True)
class CellSlice:
    """A kept cell: the statements kept, and why the others were left out."""

    cell: Cell
    kept: list[Statement]
    left_out: list[tuple[Statement, str]] = field(default_factory=list)
    unused_imports: dict[int, set[str]] = field(default_factory=dict)  # id(node) -> names


@dataclass(slots=True)
class Slice:
    name: str
    variable: str
    agent_cell: Cell
    cells: list[CellSlice]
    warnings: list[str]


class SliceError(Exception):
    """The agent cannot be exported; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _agent_call(value: ast.AST | None) -> ast.Call | None:
    if not isinstance(value, ast.Call):
        return None
    func = value.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return value if name == "Agent" else None


def _agent_names(call: ast.Call) -> set[str]:
    names = set()
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        names.add(call.args[0].value)
    for keyword in call.keywords:
        if keyword.arg in ("name", "id") and isinstance(keyword.value, ast.Constant):
            names.add(str(keyword.value.value))
    return names


def agents_in(cells: list[Cell]) -> list[tuple[Cell, str, set[str]]]:
    """Every ``VAR = Agent(...)`` and ``%%agent_def VAR`` of the notebook."""
    found = []
    for cell in cells:
        if cell.cell_magic and cell.cell_magic[0] == "agent_def":
            variable = cell.cell_magic[1].split()[0] if cell.cell_magic[1].split() else ""
            found.append((cell, variable, {variable, *_yaml_name(cell.cell_magic[2])}))
            continue
        for statement in cell.statements:
            node = statement.node
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            call = _agent_call(value)
            if isinstance(node, ast.Assign):
                targets: list[ast.expr | None] = list(node.targets)
            else:
                targets = [getattr(node, "target", None)]
            if call is not None and len(targets) == 1 and isinstance(targets[0], ast.Name):
                found.append((cell, targets[0].id, {targets[0].id, *_agent_names(call)}))
    return found


def _yaml_name(body: str) -> set[str]:
    data = _yaml(body)
    return {str(data[k]) for k in ("name", "id") if isinstance(data.get(k), str)}


def _yaml(body: str) -> dict[str, Any]:
    try:
        import yaml

        data = yaml.safe_load(body)
    except Exception:  # an invalid body: the agent_def itself reports it in the notebook
        return {}
    return data if isinstance(data, dict) else {}


def find_agent(cells: list[Cell], name: str) -> tuple[Cell, str]:
    """The cell that defines agent ``name`` (a variable, or an Agent's name or id)."""
    agents = agents_in(cells)
    matches = {(c.position, v): c for c, v, names in agents if name in names}
    for cell in cells:
        if name in cell.defs and not any(p == cell.position for p, _ in matches):
            matches[(cell.position, name)] = cell
    if not matches:
        listed = ", ".join(f"{v} ({c.label})" for c, v, _ in agents) or "none"
        raise SliceError([f"no cell defines an agent named {name!r}; agents found: {listed}"])
    if len({p for p, _ in matches}) > 1:
        where = ", ".join(c.label for c in sorted(matches.values(), key=lambda c: c.position))
        raise SliceError(
            [f"agent {name!r} is ambiguous: it is defined in {where}; keep one definition "
             "(or give the agents different names) and export again"]
        )  # fmt: skip
    (_, variable), cell = next(iter(matches.items()))
    others = [c.label for c in cells if variable in c.defs and c is not cell]
    if others:
        raise SliceError(
            [f"agent {name!r} is ambiguous: its variable {variable!r} is bound in "
             f"{cell.label} and also in {', '.join(others)}; keep one definition"]
        )  # fmt: skip
    return cell, variable


def slice_cells(cells: list[Cell], name: str) -> Slice:
    """The cells and statements agent ``name`` needs; raises ``SliceError``."""
    # a cell that does not parse defines nothing: say so first, the agent may be in it
    broken = sorted((c for c in cells if c.error), key=lambda c: name not in c.source)
    invalid = [
        f"{c.label} is not valid Python ({c.error}): fix it and export again" for c in broken
    ]
    try:
        agent_cell, variable = find_agent(cells, name)
    except SliceError as exc:
        raise SliceError([*invalid, *exc.problems]) from None
    needed: dict[int, Cell] = {agent_cell.position: agent_cell}
    problems: list[str] = []
    hidden: dict[str, list[str]] = {}
    work = [agent_cell]
    while work:
        cell = work.pop()
        for used in sorted(cell.external_uses()):
            definer = _last_definer(cells, used, cell.position)
            if definer is None:
                hidden.setdefault(used, []).append(cell.label)
            elif definer.position not in needed:
                if definer.error:
                    problems.append(f"{definer.label} defines {used!r} but is not valid Python")
                    continue
                needed[definer.position] = definer
                work.append(definer)
    for used, users in sorted(hidden.items()):
        later = [c.label for c in cells if used in c.defs]
        where = f"defined only later, in {later[0]}" if later else "no cell defines it"
        hint = " (it exists only in IPython)" if used in NOTEBOOK_ONLY else ""
        problems.append(f"hidden state: {used!r} is used in {', '.join(users)} but {where}{hint}")
    kept = [_prune(needed[p], problems) for p in sorted(needed)]
    _drop_unused_imports(kept)
    if problems:
        earlier = [
            i for c, i in zip(broken, invalid, strict=True) if c.position < agent_cell.position
        ]
        raise SliceError([*earlier, *problems] if hidden else problems)
    warnings = _later_changes(cells, agent_cell, variable)
    return Slice(name, variable, agent_cell, kept, warnings)


def _last_definer(cells: list[Cell], name: str, before: int) -> Cell | None:
    found = None
    for cell in cells:
        if cell.position >= before:
            break
        if name in cell.defs:
            found = cell
    return found


def _runs_agent(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Await):
            return True
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in RUN_METHODS
        ):
            return True
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            return False
    return False


def _prune(cell: Cell, problems: list[str]) -> CellSlice:
    part = CellSlice(cell, [])
    if cell.cell_magic is not None:
        if cell.cell_magic[0] != "agent_def":
            problems.append(f"{cell.label} is a %%{cell.cell_magic[0]} cell and is needed")
        part.kept = list(cell.statements)
        return part
    for statement in cell.statements:
        node = statement.node
        bad = [
            m for m in statement.magics if m.startswith(("!", "%%")) or m[1:] not in HARMLESS_MAGICS
        ]
        if statement.magics and not bad and isinstance(node, ast.Expr):
            part.left_out.append((statement, "notebook magic " + ", ".join(statement.magics)))
        elif statement.magics:
            problems.append(
                f"{cell.label} is needed but uses {', '.join(statement.magics)} (line "
                f"{statement.first}); move the magic to a cell of its own or write it as Python"
            )
        elif isinstance(node, ast.Expr):
            reason = _display_or_run(node.value)
            if reason is None:
                part.kept.append(statement)
            else:
                part.left_out.append((statement, reason))
        elif _runs_agent(node) and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            part.left_out.append((statement, "runs the agent or awaits at import"))
        else:
            part.kept.append(statement)
    return part


def _harmless(magic: str) -> bool:
    return magic.startswith("%") and not magic.startswith("%%") and magic[1:] in HARMLESS_MAGICS


def _display_or_run(value: ast.expr) -> str | None:
    if isinstance(value, ast.Await) or _runs_agent(value):
        return "runs the agent or awaits at import"
    if not isinstance(value, ast.Call):
        return "display only"
    func = value.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return "display only" if name in DISPLAY_CALLS else None


def _drop_unused_imports(parts: list[CellSlice]) -> None:
    used: set[str] = set()
    for part in parts:
        for statement in part.kept:
            if not isinstance(statement.node, ast.Import | ast.ImportFrom):
                used |= statement.uses
    for part in parts:
        kept = []
        for statement in part.kept:
            node = statement.node
            is_import = isinstance(node, ast.Import | ast.ImportFrom)
            if is_import and getattr(node, "module", "") != "__future__":
                unused = {n for n in statement.defs if n not in used}
                if unused == set(statement.defs) and statement.defs:
                    part.left_out.append((statement, "unused import"))
                    continue
                if unused:
                    part.unused_imports[id(node)] = unused
            kept.append(statement)
        part.kept = kept


def _later_changes(cells: list[Cell], agent_cell: Cell, variable: str) -> list[str]:
    """Cells after the agent's that change it (``agent.x = ...``): not exported."""
    found = []
    for cell in cells:
        if cell.position <= agent_cell.position:
            continue
        for statement in cell.statements:
            for sub in ast.walk(statement.node):
                target = sub.value if isinstance(sub, ast.Attribute | ast.Subscript) else None
                stores = isinstance(getattr(sub, "ctx", None), ast.Store)
                if stores and isinstance(target, ast.Name) and target.id == variable:
                    found.append(
                        f"{cell.label} changes {variable} after its definition (line "
                        f"{statement.first}); that change is not exported"
                    )
    return found
