"""``agno-nb export --force`` stays inside ``--out``: it trusts its manifest only for paths
inside the folder, and never follows a symlink to write or to delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agno_nb.exceptions import ExportError
from agno_nb.export import export_notebook
from tests.test_export import AGENT, SUPPORT, notebook

MANIFEST = ".agno-nb-export.json"


def _export(source: Path, out: Path) -> list[str]:
    with pytest.raises(ExportError) as refused:
        export_notebook(source, "support", out, verify=False, force=True)
    return refused.value.problems


def _add_to_manifest(out: Path, *entries: str) -> None:
    data = json.loads((out / MANIFEST).read_text())
    data["files"] = [*data["files"], *entries]
    (out / MANIFEST).write_text(json.dumps(data))


def test_force_refuses_a_manifest_that_lists_paths_outside_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "build" / "out"
    export_notebook(SUPPORT, "support", out, verify=False)
    (out / "agent.py").write_text("# stale")
    up = tmp_path / "build" / "victim.txt"
    absolute = tmp_path / "elsewhere" / "victim.txt"
    for victim in (up, absolute):
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_text("mine")
    _add_to_manifest(out, "../victim.txt", str(absolute), "tests/../../victim.txt")
    problems = _export(SUPPORT, out)
    assert up.read_text() == "mine" and absolute.read_text() == "mine"
    assert (out / "agent.py").read_text() == "# stale", "a refused export wrote files"
    listed = "\n".join(problems)
    assert "'../victim.txt'" in listed and repr(str(absolute)) in listed
    assert "'tests/../../victim.txt'" in listed and "outside" in listed


def _plant(out: Path, outside: Path, case: str) -> None:
    """A symlink inside ``out`` that leads to ``outside``."""
    if case == "folder":  # out/tests -> outside: tests/test_smoke.py would land there
        for child in (out / "tests").iterdir():
            child.unlink()
        (out / "tests").rmdir()
        (out / "tests").symlink_to(outside, target_is_directory=True)
    elif case == "file":  # out/agent.py -> outside/kept.py
        (out / "agent.py").unlink()
        (out / "agent.py").symlink_to(outside / "kept.py")
    elif case == "delete":  # the manifest's old/kept.py is outside/kept.py
        (out / "old").symlink_to(outside, target_is_directory=True)
        _add_to_manifest(out, "old/kept.py")
    elif case == "module":  # the copied local module helpers.py -> outside/kept.py
        (out / "helpers.py").unlink()
        (out / "helpers.py").symlink_to(outside / "kept.py")


@pytest.mark.parametrize("case", ["folder", "file", "delete", "module"])
def test_force_never_writes_or_deletes_through_a_symlink(tmp_path: Path, case: str) -> None:
    helpers = tmp_path / "nb" / "helpers.py"
    helpers.parent.mkdir()
    helpers.write_text(
        "from agno_nb import tool\n\n\n@tool\ndef lookup_order(order_id: str) -> dict:\n"
        '    """Look up an order."""\n    return {"id": order_id}\n'
    )
    source = notebook(
        helpers.parent, "from agno_nb import Agent\nfrom helpers import lookup_order\n", AGENT
    )
    out = tmp_path / "out"
    assert "helpers.py" in export_notebook(source, "support", out, verify=False).files
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("kept.py", "test_smoke.py"):
        (outside / name).write_text("mine")
    _plant(out, outside, case)
    problems = _export(source, out)
    assert sorted(p.name for p in outside.iterdir()) == ["kept.py", "test_smoke.py"]
    assert all(p.read_text() == "mine" for p in outside.iterdir())
    assert any("symlink" in p for p in problems), problems
