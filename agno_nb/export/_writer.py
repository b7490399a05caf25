"""Writing the service folder safely, and checking it in fresh processes.

A folder is written only if it does not exist, is empty, or was written by an earlier
export (it holds ``.agno-nb-export.json``) and ``force`` is given. Files of the earlier
export that the new one does not write are removed; nothing else is touched. The check
imports ``app.py`` in a fresh interpreter, then runs ``tests/test_smoke.py``, both with the
folder as working directory and a throw-away store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["MANIFEST", "check_folder", "verify", "write_files"]

MANIFEST = ".agno-nb-export.json"
_TIMEOUT = 180


def check_folder(out: Path, *, force: bool) -> str | None:
    """Why ``out`` may not be written, or None."""
    if not out.exists():
        return None
    if not out.is_dir():
        return f"{out} exists and is not a folder"
    if not any(out.iterdir()):
        return None
    if not (out / MANIFEST).is_file():
        return (
            f"{out} is not empty and was not created by agno-nb export (no {MANIFEST}): "
            "export into a new or empty folder"
        )
    if not force:
        return f"{out} holds an earlier export: pass --force to overwrite it"
    return None


def write_files(
    out: Path, files: dict[str, str], copies: list[Path], manifest: dict[str, object]
) -> list[str]:
    """Write ``files`` (relative path -> text) and ``copies`` (local modules), remove the
    files of an earlier export that are not written again; the paths written."""
    old: list[str] = []
    if (out / MANIFEST).is_file():
        old = list(json.loads((out / MANIFEST).read_text()).get("files", []))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(relative)
    for source in copies:
        target = out / source.name
        if source.is_dir():
            skip = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=skip)
        else:
            shutil.copy2(source, target)
        written.append(source.name)
    for relative in old:
        if relative not in written and (out / relative).is_file():
            (out / relative).unlink()
    data = {**manifest, "files": sorted(written), "written_at": datetime.now(UTC).isoformat()}
    (out / MANIFEST).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return written


def _env(store_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGNO_NB_")}
    env["AGNO_NB_DB"] = os.path.join(store_dir, "check.duckdb")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # the agno-nb of this environment, also when it runs from a source tree (not installed)
    import agno_nb

    root = str(Path(agno_nb.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def verify(out: Path) -> list[str]:
    """Import ``app.py`` and run the smoke test in fresh interpreters; the problems."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="agno-nb-export-check-") as store_dir:
        env = _env(store_dir)
        steps = [
            ("importing app.py", [sys.executable, "-c", "import app; app.app"]),
            ("the smoke test", [sys.executable, os.path.join("tests", "test_smoke.py")]),
        ]
        for label, command in steps:
            try:
                done = subprocess.run(
                    command, cwd=out, env=env, capture_output=True, text=True, timeout=_TIMEOUT
                )
            except subprocess.TimeoutExpired:
                problems.append(f"{label} did not finish in {_TIMEOUT} s")
                break
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
                problems.append(f"{label} failed:\n    " + "\n    ".join(tail))
                break
    return problems
