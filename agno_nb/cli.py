"""The ``agno-nb`` command, and the agno-nb kernelspec.

::

    agno-nb lab                           JupyterLab on the quickstart, everything set up
    agno-nb kernel install [--user] [--name NAME] [--display-name TEXT] [--prefix DIR]
    agno-nb kernel uninstall [--name NAME]
    agno-nb export NOTEBOOK --agent NAME --out DIR [--force] [--no-verify] [--allow-secret K]
    agno-nb serve DIR | module:agent [--host H] [--port P] [--workers N] [--insecure] [--db F]

Each subcommand is a ``_add_<name>(subparsers)`` function that registers its parser and
its handler (``set_defaults(func=...)``); ``export`` lives in ``agno_nb.export.command``,
``serve`` in ``agno_nb.runtime.serve``.

The kernelspec's ``kernel.json`` runs ``python -m ipykernel_launcher ...
--IPKernelApp.extensions=agno_nb.jupyter``: the magics are there without ``%load_ext``.
By default it goes into this environment (``sys.prefix``, where its JupyterLab looks);
``--user`` puts it in the user's Jupyter data directory, ``--prefix`` anywhere else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

__all__ = [
    "DISPLAY_NAME", "KERNEL_NAME", "align_language_info", "build_parser", "install_kernel",
    "kernel_json", "main", "uninstall_kernel",
]  # fmt: skip

Handler = Callable[[argparse.Namespace], int]

# -- the kernelspec: "Python 3 (agno-nb)", this Python with the extension preloaded ----

KERNEL_NAME = "agno-nb"
DISPLAY_NAME = "Python 3 (agno-nb)"
EXTENSION = "agno_nb.jupyter"


def kernel_json(python: str | None = None, display_name: str = DISPLAY_NAME) -> dict[str, Any]:
    """The kernel.json of the spec."""
    return {
        "argv": [
            python or sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            f"--IPKernelApp.extensions={EXTENSION}",
        ],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": True, "agno_nb": True},
    }


def _logos(target: Path) -> None:
    try:
        import ipykernel
    except ImportError:  # pragma: no cover - ipykernel is what runs the kernel
        return
    resources = Path(ipykernel.__file__).parent / "resources"
    for logo in resources.glob("logo-*"):
        shutil.copy(logo, target / logo.name)


def install_kernel(
    name: str = KERNEL_NAME,
    *,
    user: bool = False,
    prefix: str | None = None,
    display_name: str = DISPLAY_NAME,
) -> str:
    """Install (or replace) the kernelspec; returns the directory it went to."""
    from jupyter_client.kernelspec import KernelSpecManager

    if not user and prefix is None:
        prefix = sys.prefix
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / name
        source.mkdir()
        spec = kernel_json(display_name=display_name)
        (source / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        _logos(source)
        path: str = KernelSpecManager().install_kernel_spec(
            str(source), name, user=user, prefix=None if user else prefix
        )
    return path


def uninstall_kernel(name: str = KERNEL_NAME) -> str:
    """Remove the kernelspec; returns the directory removed (``KeyError`` if absent)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        path: str = KernelSpecManager().remove_kernel_spec(name)
    except NoSuchKernel:
        raise KeyError(name) from None
    return path


# -- subcommands -----------------------------------------------------------------------

QUICKSTART = "quickstart.ipynb"
#: JupyterLab options of ``agno-nb lab``: nothing is fetched from the internet
LAB_OPTIONS = (
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.news_url=None",
    "--LabApp.extension_manager=readonly",
)


def _kernel_install(args: argparse.Namespace) -> int:
    path = install_kernel(
        args.name, user=args.user, prefix=args.prefix, display_name=args.display_name
    )
    print(f"Installed kernelspec {args.name!r} ({args.display_name}) in {path}")
    return 0


def _kernel_uninstall(args: argparse.Namespace) -> int:
    try:
        path = uninstall_kernel(args.name)
    except KeyError:
        print(f"agno-nb: no kernelspec named {args.name!r} is installed", file=sys.stderr)
        return 1
    print(f"Removed kernelspec {args.name!r} from {path}")
    return 0


def _add_kernel(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kernel = sub.add_parser("kernel", help="install or remove the 'Python 3 (agno-nb)' kernel")
    actions = kernel.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("install", help="register the kernelspec (extension preloaded)")
    add.add_argument("--user", action="store_true", help="in the user's Jupyter directory")
    add.add_argument("--prefix", help="under this prefix (default: this environment)")
    add.add_argument("--name", default=KERNEL_NAME, help=f"kernel name (default {KERNEL_NAME})")
    add.add_argument("--display-name", default=DISPLAY_NAME, help="name shown in JupyterLab")
    add.set_defaults(func=_kernel_install)
    remove = actions.add_parser("uninstall", help="remove the kernelspec")
    remove.add_argument("--name", default=KERNEL_NAME)
    remove.set_defaults(func=_kernel_uninstall)


def find_notebooks(start: Path | None = None) -> Path | None:
    """The folder with the example notebooks: ``./notebooks``, the source checkout's
    ``notebooks/``, or the copy inside the package; None if there is none."""
    import agno_nb

    package = Path(agno_nb.__file__).resolve().parent
    for folder in ((start or Path.cwd()) / "notebooks", package.parent / "notebooks",
                   package / "_notebooks"):  # fmt: skip
        if (folder / QUICKSTART).is_file():
            return folder
    return None


def lab_command(args: argparse.Namespace) -> tuple[list[str], Path]:
    """The JupyterLab command line of ``agno-nb lab`` and the folder it serves."""
    folder = Path(args.dir) if args.dir else find_notebooks()
    if folder is None or not (folder / QUICKSTART).is_file():
        raise SystemExit(
            "agno-nb lab: no notebooks/quickstart.ipynb here or in the package; "
            "pass --dir DIR (a folder with quickstart.ipynb)"
        )
    root = folder.parent if folder.name == "notebooks" else folder
    if not os.access(root, os.W_OK):  # an installed package: work on a copy
        root = Path.cwd()
        target = root / "agno-nb-notebooks"
        if not target.exists():
            shutil.copytree(folder, target)
        folder = target
    opened = (folder / QUICKSTART).resolve().relative_to(root.resolve())
    command = [sys.executable, "-m", "jupyter", "lab", str(opened), f"--ServerApp.root_dir={root}"]
    command += [*LAB_OPTIONS, "--MappingKernelManager.default_kernel_name=agno-nb"]
    if args.port:
        command.append(f"--ServerApp.port={args.port}")
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers, CI: JupyterLab refuses root
        command.append("--ServerApp.allow_root=True")
    return [*command, *args.jupyter_args], root


def align_language_info(folder: Path) -> list[str]:
    """Give the notebooks of ``folder`` the ``language_info`` that this Python's kernel
    reports, so that opening one does not mark it modified (JupyterLab writes the
    kernel's ``language_info``, Python version included, into a notebook whose kernel
    starts). Only notebooks for this Python's kernels (``python3``, ``agno-nb``) saved in
    nbformat's own layout are rewritten, and only that field changes; returns their names."""
    try:
        import nbformat
        from ipykernel.ipkernel import IPythonKernel
    except ImportError:  # pragma: no cover - the lab extra has both
        return []
    reads = cast(Callable[..., Any], nbformat.reads)
    writes = cast(Callable[[Any], str], nbformat.writes)
    wanted = dict(IPythonKernel.language_info)
    changed = []
    for path in sorted(folder.glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        try:
            nb = reads(text, as_version=4)
        except Exception:  # not a notebook nbformat reads: not ours to touch
            continue
        meta = nb.metadata
        if (
            meta.get("kernelspec", {}).get("name") not in ("python3", KERNEL_NAME)
            or meta.get("language_info") == wanted
            or text != writes(nb) + "\n"
        ):
            continue
        meta["language_info"] = wanted
        path.write_text(writes(nb) + "\n", encoding="utf-8")
        changed.append(path.name)
    return changed


def _lab(args: argparse.Namespace) -> int:
    command, root = lab_command(args)
    if args.dry_run:
        print(" ".join(command))
        return 0
    install_kernel()
    aligned = align_language_info((root / command[4]).parent)
    if aligned:
        print(f"agno-nb: language_info of {', '.join(aligned)} set to this Python's")
    offline = (
        ""
        if os.environ.get("ANTHROPIC_API_KEY")
        else (
            "; no ANTHROPIC_API_KEY, so it runs on the offline demo model (scripted FakeAnthropic)"
        )
    )
    print(
        f"agno-nb: kernel 'Python 3 (agno-nb)' installed; opening {command[4]} in JupyterLab "
        f"(root {root}){offline}"
    )
    try:
        return subprocess.call(command, cwd=root)
    except KeyboardInterrupt:
        return 130


def _add_lab(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = sub.add_parser(
        "lab",
        help="open JupyterLab on the quickstart (kernelspec installed, offline)",
        description="Install the agno-nb kernelspec and open JupyterLab on the quickstart "
        "notebook. Without ANTHROPIC_API_KEY the notebooks use an offline demo model. "
        "Arguments after -- go to JupyterLab.",
    )
    lab.add_argument("--dir", help="folder with quickstart.ipynb (default: ./notebooks)")
    lab.add_argument("--port", type=int, help="port (default: JupyterLab's, 8888)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    lab.set_defaults(func=_lab)


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from agno_nb.export.command import add_export_arguments, export_main

    export = sub.add_parser(
        "export",
        help="write a notebook agent out as a FastAPI service folder",
        description="Export the cells an agent needs (def/use analysis) into DIR with app.py, "
        "requirements.txt, a Dockerfile, a README and a smoke test, then check it in fresh "
        "processes. Exit 2 if it cannot be exported (every reason is listed).",
    )
    add_export_arguments(export)
    export.set_defaults(func=export_main)


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from agno_nb.runtime.serve import add_serve_arguments, serve_main

    serve = sub.add_parser(
        "serve",
        help="serve an exported folder or module:agent with uvicorn",
        description="Run the AgentOS-compatible service. Without auth configured it refuses "
        "a non-loopback --host unless --insecure; one worker per DuckDB file.",
    )
    add_serve_arguments(serve)
    serve.set_defaults(func=serve_main)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_lab,
    _add_kernel,
    _add_export,
    _add_serve,
]


def build_parser() -> argparse.ArgumentParser:
    from agno_nb import __version__

    parser = argparse.ArgumentParser(prog="agno-nb", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"agno-nb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    if getattr(args, "jupyter_args", None) and args.jupyter_args[0] == "--":
        args.jupyter_args = args.jupyter_args[1:]
    func: Handler = args.func
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
