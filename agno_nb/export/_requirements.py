"""``requirements.txt``: what the exported code imports, pinned from this environment.

Import names map to distributions through ``importlib.metadata.packages_distributions()``
(``yaml`` -> ``PyYAML``). The standard library and modules next to the notebook (copied
into the folder) need no line. agno-nb itself is always there: pinned to its version
when installed from an index, else (it is not on PyPI yet) to the local checkout it runs
from, which the generated README explains. The service's own imports (FastAPI, uvicorn,
python-multipart, PyJWT and cryptography) and agno-nb's dependencies are pinned too.
"""

from __future__ import annotations

import ast
import json
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

__all__ = ["Requirements", "imported_modules", "requirements_for"]

SERVICE = ("fastapi", "uvicorn", "python-multipart", "PyJWT", "cryptography")  # RS256 JWTs
_OWN = "agno-nb"


@dataclass(slots=True)
class Requirements:
    lines: list[str] = field(default_factory=list)
    local: list[Path] = field(default_factory=list)  # modules to copy next to agent.py
    missing: list[str] = field(default_factory=list)  # imported but not installed here
    agno_nb_source: str = ""  # "pypi" or the local checkout path

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def imported_modules(code: str) -> set[str]:
    """Top-level module names imported anywhere in ``code`` (not relative imports)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def _pin(dist: str) -> str | None:
    try:
        return f"{metadata.distribution(dist).metadata['Name']}=={metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return None


def _agno_nb_line() -> tuple[str, str]:
    """The requirement for agno-nb and where it comes from."""
    try:
        dist = metadata.distribution(_OWN)
    except metadata.PackageNotFoundError:  # running from a source tree, not installed
        root = Path(__file__).resolve().parents[2]
        return f"{_OWN} @ {root.as_uri()}", str(root)
    direct = dist.read_text("direct_url.json")
    url = json.loads(direct).get("url", "") if direct else ""
    if url.startswith("file://"):
        return f"{_OWN} @ {url}", url.removeprefix("file://")
    return f"{_OWN}=={dist.version}", "pypi"


def _dependencies(dist: str) -> list[str]:
    """The names of ``dist``'s unconditional requirements."""
    names = []
    for requirement in metadata.requires(dist) or []:
        if "extra ==" in requirement:
            continue
        names.append(_name(requirement))
    return names


def _own_dependencies() -> list[str]:
    """agno-nb's requirements: installed metadata, else the source tree's pyproject."""
    try:
        return _dependencies(_OWN)
    except metadata.PackageNotFoundError:
        pass
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        listed = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    except (OSError, KeyError, ValueError):
        return []
    return [_name(r) for r in listed]


def _name(requirement: str) -> str:
    name = requirement.split(";")[0]
    for stop in "<>=!~[ (":
        name = name.split(stop)[0]
    return name.strip()


def requirements_for(code: str, notebook_dir: Path, *, header: str) -> Requirements:
    """Pinned requirements of ``code`` (agent.py); local modules are listed to copy."""
    result = Requirements()
    mapping = metadata.packages_distributions()
    imported: dict[str, str] = {}
    for module in sorted(imported_modules(code)):
        if module in sys.stdlib_module_names or module in ("__future__", "agno_nb"):
            continue
        local = _local_module(module, notebook_dir)
        if local is not None:
            result.local.append(local)
            continue
        dists = mapping.get(module)
        if not dists:
            result.missing.append(module)
            continue
        for dist in dists:
            imported.setdefault(dist.lower(), dist)
    line, result.agno_nb_source = _agno_nb_line()
    own = {d.lower() for d in _own_dependencies()}
    service = sorted({d.lower(): d for d in (*own, *(s.lower() for s in SERVICE))}.items())
    lines = [*header.splitlines(), ""]
    if result.agno_nb_source != "pypi":
        lines += [
            "# agno-nb is not on PyPI yet: this line installs the local checkout the agent",
            "# was exported from. See README.md (Installing agno-nb) for other machines.",
        ]
    lines.append(line)
    user = [p for d, name in sorted(imported.items()) if (p := _pin(name))]
    if user:
        lines += ["", "# imported by agent.py", *user]
    if result.missing:
        lines += ["", "# imported by agent.py but not installed where it was exported: pin them"]
        lines += [f"# {m}" for m in result.missing]
    pinned = [p for d, name in service if d not in imported and (p := _pin(name))]
    lines += ["", "# the service (app.py: agno_nb.runtime) and agno-nb's dependencies", *pinned]
    result.lines = lines
    return result


def _local_module(module: str, notebook_dir: Path) -> Path | None:
    """A module that lives next to the notebook (a file or a package folder)."""
    if (notebook_dir / f"{module}.py").is_file():
        return notebook_dir / f"{module}.py"
    if (notebook_dir / module / "__init__.py").is_file():
        return notebook_dir / module
    return None
