"""From notebook to service: ``export_notebook(NOTEBOOK, AGENT, OUT)``.

::

    agno-nb export notebooks/quickstart.ipynb --agent support --out build/support
    %agent_export support build/support          # from a live kernel

The cell that defines the agent and, by def/use analysis of the code cells, every cell
it depends on are written to ``OUT/agent.py`` in notebook order, next to ``app.py`` (built
on ``agno_nb.runtime``), pinned ``requirements.txt``, a ``Dockerfile``, a ``README.md``,
``.env.example`` and ``tests/test_smoke.py``; then ``app.py`` is imported and the smoke
test run in fresh processes before success is reported. What cannot be exported raises
``ExportError`` listing every problem; hard-coded secrets are never copied: a literal that
is wholly a credential becomes an ``os.environ`` lookup, and a credential anywhere else in
the exported cells (a comment, a docstring, part of a string) is refused unless
``allow_secrets`` names its kind (``"aws"``) or its place (``"3:12"``, cell 3, line 12).
Nothing is written outside ``OUT`` (``_writer``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agno_nb.exceptions import ExportError

__all__ = ["ExportResult", "export_cells", "export_notebook"]


@dataclass(slots=True)
class ExportResult:
    """What an export wrote, and what it warns about."""

    out: Path
    agent: str
    variable: str
    cells: list[str]
    files: list[str]
    secrets: list[str] = field(default_factory=list)  # env names replacing hard-coded secrets
    warnings: list[str] = field(default_factory=list)
    verified: bool = False

    def summary(self) -> str:
        lines = [
            f"exported agent {self.agent!r} ({', '.join(self.cells)}) to {self.out}",
            f"  files: {', '.join(self.files)}",
        ]
        if self.secrets:
            lines.append(
                "  WARNING: hard-coded secrets replaced by os.environ lookups (set them; see "
                f".env.example): {', '.join(self.secrets)}"
            )
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append(
            "  checked: app.py imports and tests/test_smoke.py passes in fresh processes"
            if self.verified
            else "  not checked (verify=False)"
        )
        lines.append(f"  run it:  cd {self.out} && uvicorn app:app --port 7777")
        return "\n".join(lines)


def export_notebook(
    notebook: str | os.PathLike[str],
    agent: str,
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    verify: bool = True,
    allow_secrets: Sequence[str] = (),
) -> ExportResult:
    """Export agent ``agent`` of ``notebook`` into the service folder ``out``;
    ``allow_secrets``: credential kinds or CELL:LINE places to copy as written."""
    from agno_nb.export._cells import read_notebook

    path = Path(notebook)
    try:
        cells = read_notebook(path)
    except (OSError, ValueError) as exc:
        raise ExportError([f"cannot read {path}: {exc}"]) from None
    return export_cells(
        cells, agent, out, source=path.name, notebook_dir=path.resolve().parent,
        force=force, verify=verify, allow_secrets=allow_secrets,
    )  # fmt: skip


def export_cells(
    cells: Sequence[object],
    agent: str,
    out: str | os.PathLike[str],
    *,
    source: str,
    notebook_dir: Path,
    force: bool = False,
    verify: bool = True,
    allow_secrets: Sequence[str] = (),
) -> ExportResult:
    """``export_notebook`` for cells already read (``_cells.Cell``, or plain sources as in
    a kernel's input history)."""
    from agno_nb import __version__
    from agno_nb.export import _templates as t
    from agno_nb.export._cells import Cell, cells_from_sources
    from agno_nb.export._credentials import allow_problems
    from agno_nb.export._requirements import requirements_for
    from agno_nb.export._slice import SliceError, slice_cells
    from agno_nb.export._source import render
    from agno_nb.export._writer import check_folder, write_files
    from agno_nb.export._writer import verify as check

    target = Path(out)
    problems = allow_problems(allow_secrets) + check_folder(target, force=force)
    if problems:
        raise ExportError(problems)
    parsed = [c for c in cells if isinstance(c, Cell)]
    parsed += cells_from_sources([c for c in cells if isinstance(c, str)])
    try:
        sliced = slice_cells(parsed, agent)
    except SliceError as exc:
        raise ExportError(exc.problems) from None
    module = render(sliced, source, frozenset(allow_secrets))
    if module.problems:
        raise ExportError(module.problems)
    header = f"# agent {agent!r} exported from {source} by agno-nb {__version__}; pinned here."
    requirements = requirements_for(module.text, notebook_dir, header=header)
    agent_id = _agent_id(sliced.variable, agent, parsed)
    names = t.Names(
        agent, agent_id, sliced.variable, source, __version__, requirements.agno_nb_source
    )
    labels = [p.cell.label for p in sliced.cells]
    warnings = [*sliced.warnings, *module.allowed]
    for missing in requirements.missing:
        warnings.append(f"{missing} is imported but not installed here: pin it by hand")
    for secret in module.secrets:
        warnings.append(f"{secret.where}: a hard-coded secret became os.environ[{secret.env!r}]")
    readme = t.readme(names, cells=", ".join(labels), secrets=module.env_names, warnings=warnings)
    files = {
        "agent.py": module.text,
        "app.py": t.app_py(names),
        "requirements.txt": requirements.text,
        "Dockerfile": t.dockerfile(names),
        ".env.example": t.env_example(names, module.env_names),
        "README.md": readme,
        "tests/test_smoke.py": t.smoke_test(names),
        "wheels/README.md": "Put the agno-nb wheel here for `docker build` (see ../README.md).\n",
    }
    leaked = [name for name, text in files.items() if any(s in text for s in module.literals)]
    if leaked:  # pragma: no cover - a guard: the secret scan replaced every literal it found
        raise ExportError([f"a secret would be written to {', '.join(leaked)}; nothing written"])
    manifest: dict[str, object] = {
        "generator": f"agno-nb export {__version__}",
        "notebook": source,
        "agent": agent,
        "variable": sliced.variable,
        "cells": labels,
    }
    written = write_files(target, files, requirements.local, manifest)
    result = ExportResult(
        target, agent, sliced.variable, labels, sorted(written), module.env_names, warnings
    )
    if verify:
        problems = check(target)
        if problems:
            broken = f"the exported service in {target} does not work"
            raise ExportError([f"{broken}: {p}" for p in problems])
        result.verified = True
    return result


def _agent_id(variable: str, name: str, cells: Sequence[object]) -> str:
    """The id the service will use for the agent (``Agent.id`` rules), best effort: the
    smoke test reads it from the running app anyway."""
    import ast

    from agno_nb.export._cells import Cell

    for cell in cells:
        if not isinstance(cell, Cell):
            continue
        for statement in cell.statements:
            node = statement.node
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == variable for t in node.targets
            ):
                call = node.value
                if isinstance(call, ast.Call):
                    for keyword in call.keywords:
                        if keyword.arg == "id" and isinstance(keyword.value, ast.Constant):
                            return str(keyword.value.value)
                    first = call.args[0] if call.args else None
                    for keyword in call.keywords:
                        if keyword.arg == "name":
                            first = keyword.value
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        return first.value.strip().lower().replace(" ", "-")
    return name.strip().lower().replace(" ", "-")
