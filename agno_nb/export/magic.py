"""``%agent_export NAME DIR``: export an agent from a live kernel.

::

    %agent_export support build/support [--force] [--notebook PATH] [--no-verify]
                                        [--allow-secret KIND|CELL:LINE ...]

The cells come from the notebook file the kernel runs (``--notebook``, else the path
Jupyter gives the kernel: ``__session__`` / ``$JPY_SESSION_NAME``, or VS Code's
``__vsc_ipynb_file__``): save the notebook first, the file is what is read. Without a
notebook file (a console, a script) the kernel's input history is used, in execution
order. ``register`` adds the magic to a shell (``load_ipython_extension`` calls it);
problems come back as a ``UsageError`` listing each one.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from agno_nb.exceptions import ExportError
from agno_nb.export import ExportResult, export_cells, export_notebook

__all__ = ["notebook_path", "parse_line", "register", "run_magic"]


def parse_line(line: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="%agent_export", add_help=False, exit_on_error=False)
    parser.add_argument("name")
    parser.add_argument("out")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--notebook")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("--allow-secret", dest="allow_secrets", action="append", default=[])
    try:
        return parser.parse_args(shlex.split(line))
    except (argparse.ArgumentError, SystemExit) as exc:
        raise ValueError(
            "usage: %agent_export NAME DIR [--force] [--notebook PATH] [--no-verify] "
            "[--allow-secret KIND|CELL:LINE]"
        ) from exc


def notebook_path(namespace: dict[str, Any]) -> Path | None:
    """The notebook file this kernel runs, if Jupyter (or VS Code) says which."""
    for candidate in (
        namespace.get("__vsc_ipynb_file__"),
        namespace.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    ):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(candidate)
            if path.is_file():
                return path
    return None


def run_magic(shell: Any, line: str) -> ExportResult:
    """What ``%agent_export`` does; raises ``ExportError`` or ``ValueError`` (usage)."""
    args = parse_line(line)
    namespace: dict[str, Any] = shell.user_ns
    path = Path(args.notebook) if args.notebook else notebook_path(namespace)
    if path is not None:
        result = export_notebook(
            path, args.name, args.out, force=args.force, verify=args.verify,
            allow_secrets=args.allow_secrets,
        )  # fmt: skip
    else:
        history = [s for s in namespace.get("In", [])[1:] if isinstance(s, str) and s.strip()]
        # drop this very call (and earlier exports) from the history
        history = [s for s in history if "agent_export" not in s]
        result = export_cells(
            list(history), args.name, args.out, source="the kernel's input history",
            notebook_dir=Path.cwd(), force=args.force, verify=args.verify,
            allow_secrets=args.allow_secrets,
        )  # fmt: skip
    print(result.summary())
    return result


def register(ipython: Any) -> None:
    """Register ``%agent_export`` on an IPython shell."""
    from IPython.core.error import UsageError
    from IPython.core.magic import Magics, line_magic, magics_class

    @magics_class
    class ExportMagics(Magics):  # type: ignore[misc,unused-ignore]
        @line_magic  # type: ignore[untyped-decorator,unused-ignore]
        def agent_export(self, line: str) -> ExportResult:
            """Usage:
              %agent_export NAME DIR [--force] [--notebook PATH] [--no-verify]
                            [--allow-secret KIND|CELL:LINE]

            Export agent NAME of this notebook into DIR, a FastAPI service folder
            (agent.py, app.py, requirements.txt, a Dockerfile, a README, a smoke test),
            then check it in fresh processes. Reads the saved notebook (save first), or
            the kernel's input history without one.

            Options:
              --force                  overwrite a folder written by an earlier export
              --notebook PATH          read this notebook file
              --no-verify              skip the check in fresh processes
              --allow-secret KIND|CELL:LINE
                                       a credential-like string that is a published example

            Example:
              %agent_export support build/support
            """
            try:
                return run_magic(self.shell, line)
            except ExportError as exc:
                listed = "\n".join(f"  - {p}" for p in exc.problems)
                raise UsageError(f"cannot export {line.split()[0]!r}:\n{listed}") from None
            except ValueError as exc:
                raise UsageError(str(exc)) from None

    from agno_nb.jupyter._ipython import guard_magics

    magics = ExportMagics(ipython)
    guard_magics(magics)  # errors in one line and a hint, help as text
    ipython.register_magics(magics)
