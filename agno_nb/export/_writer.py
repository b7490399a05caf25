"""Writing the service folder safely, and checking it in fresh processes.

A folder is written only if it does not exist, is empty, or was written by an earlier
export (it holds ``.agno-nb-export.json``) and ``force`` is given. Files of the earlier
export that the new one does not write are removed; nothing else is touched.

Export never leaves its folder. The manifest is trusted only for relative paths that stay
inside it: an entry that is absolute or climbs out (``..``) means the manifest was edited,
and the export refuses, listing each one. A symlink inside the folder on the way to a file
the export writes or removes (a sub-folder, the file itself, a copied module) is refused
too, before anything is written; the writes themselves go through directory descriptors
opened with ``O_NOFOLLOW``, so a symlink planted meanwhile fails the write rather than
being followed. The folder itself may be a symlink: it is the path the user chose.

The check imports ``app.py`` in a fresh interpreter, then runs ``tests/test_smoke.py``,
both with the folder as working directory and a throw-away store.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from agno_nb.exceptions import ExportError

__all__ = ["MANIFEST", "check_folder", "earlier_files", "verify", "write_files"]

MANIFEST = ".agno-nb-export.json"
_TIMEOUT = 180
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_AT = {os.open, os.mkdir, os.unlink, os.stat} <= os.supports_dir_fd  # POSIX: *at() calls


def check_folder(out: Path, *, force: bool) -> list[str]:
    """Why ``out`` may not be written (nothing: it may)."""
    if out.is_symlink() and not out.exists():
        return [f"{out} is a symlink to a missing folder ({os.readlink(out)})"]
    if not out.exists():
        return []
    if not out.is_dir():
        return [f"{out} exists and is not a folder"]
    if not any(out.iterdir()):
        return []
    if (out / MANIFEST).is_symlink():
        return _symlinks(out, [MANIFEST])
    if not (out / MANIFEST).is_file():
        return [
            f"{out} is not empty and was not created by agno-nb export (no {MANIFEST}): "
            "export into a new or empty folder"
        ]
    if not force:
        return [f"{out} holds an earlier export: pass --force to overwrite it"]
    return earlier_files(out)[1]


def _inside(entry: object) -> bool:
    """A manifest entry that names a path inside the folder, whatever the folder holds."""
    if not isinstance(entry, str) or not entry or "\\" in entry or "\0" in entry:
        return False
    path = PurePosixPath(entry)
    return not path.is_absolute() and ".." not in path.parts and path.parts != ()


def earlier_files(out: Path) -> tuple[list[str], list[str]]:
    """The files the earlier export's manifest lists, and why it is not trusted (entries
    that are absolute or climb out of ``out``; an unreadable manifest)."""
    manifest = out / MANIFEST
    if not manifest.is_file() or manifest.is_symlink():
        return [], []
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError) as exc:
        return [], [f"{manifest} cannot be read ({exc}): delete {out} and export again"]
    if not isinstance(listed, list):
        return [], [f"{manifest} is damaged ('files' is not a list): delete {out} and export again"]
    outside = [entry for entry in listed if not _inside(entry)]
    problems = [
        f"{manifest} lists {entry!r}, which is outside {out}: the manifest was edited and "
        "export only ever removes files inside its folder; check the folder, then delete it "
        "(or that entry) and export again"
        for entry in outside
    ]
    return [str(entry) for entry in listed if _inside(entry)], problems


def _symlinks(out: Path, relatives: list[str]) -> list[str]:
    """A refusal for each symlink inside ``out`` on the way to one of ``relatives``."""
    found: dict[Path, str] = {}
    for relative in relatives:
        path = out
        for part in PurePosixPath(relative).parts:
            path = path / part
            if path.is_symlink():
                found.setdefault(path, os.readlink(path))
                break
            if not path.exists():
                break
    return [
        f"{path} is a symlink (to {target}): export never writes or deletes through a "
        "symlink; remove it (or export into a new folder) and export again"
        for path, target in found.items()
    ]


def _open_folder(out: Path, parts: tuple[str, ...], *, create: bool) -> int | None:
    """A descriptor of ``out/parts...``, each step opened without following a symlink;
    None if a step does not exist and ``create`` is false."""
    fd = os.open(out, os.O_RDONLY | _DIRECTORY)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
            try:
                child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if create:
                    raise
                os.close(fd)
                return None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write(out: Path, relative: str, data: bytes) -> None:
    *parents, name = PurePosixPath(relative).parts
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW
    if not _AT:  # pragma: no cover - no *at() calls (Windows): the refusals above only
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_bytes(data)
        return
    folder = _open_folder(out, tuple(parents), create=True)
    assert folder is not None
    try:
        fd = os.open(name, flags, 0o666, dir_fd=folder)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    finally:
        os.close(folder)


def _remove(out: Path, relative: str) -> None:
    """Remove the regular file ``out/relative``, if it is one (never through a symlink)."""
    *parents, name = PurePosixPath(relative).parts
    if not _AT:  # pragma: no cover - no *at() calls (Windows): the refusals above only
        path = out / relative
        if path.is_file() and not path.is_symlink():
            path.unlink()
        return
    folder = _open_folder(out, tuple(parents), create=False)
    if folder is None:
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
                os.unlink(name, dir_fd=folder)
    finally:
        os.close(folder)


def _planned(files: dict[str, str], copies: list[Path]) -> dict[str, str | Path]:
    """Every file to write, relative path -> text (or the local module file to copy)."""
    plan: dict[str, str | Path] = dict(files)
    for source in copies:
        if not source.is_dir():
            plan[source.name] = source
            continue
        for path in sorted(source.rglob("*")):
            inner = path.relative_to(source)
            if path.is_file() and "__pycache__" not in inner.parts:
                plan[f"{source.name}/{inner.as_posix()}"] = path
    return plan


def write_files(
    out: Path, files: dict[str, str], copies: list[Path], manifest: dict[str, object]
) -> list[str]:
    """Write ``files`` (relative path -> text) and ``copies`` (local modules), remove the
    files of an earlier export that are not written again; the paths written. Raises
    ``ExportError``, having written nothing, if that would leave ``out``."""
    old, problems = earlier_files(out)
    plan = _planned(files, copies)
    written = [*files, *(source.name for source in copies)]
    stale = [r for r in old if r not in written and r not in plan and r != MANIFEST]
    problems += _symlinks(out, [*plan, MANIFEST, *stale])
    if problems:
        raise ExportError(problems)
    out.mkdir(parents=True, exist_ok=True)
    data = {**manifest, "files": sorted(written), "written_at": datetime.now(UTC).isoformat()}
    try:
        for relative, content in plan.items():
            text = content.read_bytes() if isinstance(content, Path) else content.encode()
            _write(out, relative, text)
        for relative in stale:
            _remove(out, relative)
        _write(out, MANIFEST, (json.dumps(data, indent=2) + "\n").encode())
    except OSError as exc:  # e.g. a symlink planted while writing: not followed
        raise ExportError([f"cannot write the export into {out}: {exc}"]) from None
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
