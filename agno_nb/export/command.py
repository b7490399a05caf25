"""``agno-nb export``: its flags and its handler (``agno_nb.cli`` builds the parser)::

    agno-nb export NOTEBOOK --agent NAME --out DIR [--force] [--no-verify] [--allow-secret K]

Exit codes: 0 done, 1 the exported service does not work, 2 refused (every reason listed).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_export_arguments", "export_main"]


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", help="the .ipynb file that defines the agent")
    parser.add_argument(
        "--agent", required=True, help="the agent: its variable, or its Agent name or id"
    )
    parser.add_argument("--out", required=True, help="the service folder to write")
    parser.add_argument(
        "--force", action="store_true", help="overwrite a folder written by an earlier export"
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip importing app.py and running the smoke test in fresh processes",
    )
    parser.add_argument(
        "--allow-secret",
        dest="allow_secrets",
        action="append",
        default=[],
        metavar="KIND|CELL:LINE",
        help="copy a credential the export would refuse, e.g. a published example key: "
        "its kind (aws, github, jwt, ...) or the CELL:LINE the refusal names; repeatable",
    )


def export_main(args: argparse.Namespace) -> int:
    """Export, print what was written (and every warning); 2 if refused, 1 if the result
    does not work."""
    from agno_nb.exceptions import ExportError
    from agno_nb.export import export_notebook

    try:
        result = export_notebook(
            args.notebook, args.agent, args.out, force=args.force, verify=args.verify,
            allow_secrets=getattr(args, "allow_secrets", []),
        )  # fmt: skip
    except ExportError as exc:
        print(f"agno-nb export: cannot export agent {args.agent!r}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        broken = any("does not work" in p for p in exc.problems)
        return 1 if broken else 2
    print(result.summary())
    return 0
