"""notebooks/mcp.ipynb, executed with nbclient in a real kernel the way ``make lab`` runs
it: the notebook's own kernelspec (this venv's Python), the notebook's folder as the
working directory, no ``MCP_SERVER_TIME`` and a PATH without the venv's ``bin`` (nobody
activates the venv before ``make lab``). ``mcp-server-time`` is the one the ``lab`` extra
installs next to the kernel's Python; FakeAnthropic plays the model on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.jupyter_support import texts

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the notebooks folder, and the environment of a plain shell."""
    bin_dir = os.path.dirname(sys.executable)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != bin_dir]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    monkeypatch.delenv("MCP_SERVER_TIME", raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    for name in [k for k in os.environ if k.startswith("ANTHROPIC_")]:
        monkeypatch.delenv(name)
    target = tmp_path / "notebooks"
    target.mkdir()
    shutil.copy(ROOT / "notebooks" / "mcp.ipynb", target)
    return target


def test_the_mcp_notebook_runs_as_make_lab_runs_it(folder: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    assert shutil.which("mcp-server-time") is None  # only the venv's copy can be found
    nb = nbformat.read(folder / "mcp.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(folder)}})
    client.execute()
    cells = [texts(c) for c in nb.cells if c.cell_type == "code"]
    assert "mcp-server-time found" in cells[0]
    assert "get_current_time(timezone): {'mcp.server': 'time', 'mcp.transport': 'stdio'" in cells[1]
    assert "MCPTools('time', stdio: " in cells[1] and "connected)" in cells[1]
    assert cells[2].startswith("The time server says: {") and "Europe/Oslo" in cells[2]
    assert "Asia/Tokyo" in cells[3]
    assert "error | The time server could not tell: " in cells[3]
    assert (
        "paused [('write_file', {'name': 'hello.txt', 'text': 'Hello, MCP!'}, 'required')]"
        in (cells[4])
    )
    assert "written yet? False" in cells[4]
    assert cells[5].strip() == "completed | Saved hello.txt. | Hello, MCP!"
    assert "completed | The call to 'write_file' was not approved" in cells[6]
    assert "not now" in cells[6] and cells[6].strip().endswith("| False")
    assert "not connected" in cells[7]
    assert sorted(p.name for p in folder.iterdir()) == ["mcp.ipynb"]  # nothing left behind


def test_make_lab_installs_the_notebooks_server_next_to_the_kernels_python() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lab = project["optional-dependencies"]["lab"]
    assert any(r.startswith("mcp-server-time") for r in lab)  # make lab installs .[dev]
    assert Path(sys.executable).with_name("mcp-server-time").exists()
