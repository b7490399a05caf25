"""notebooks/mcp.ipynb, executed with nbclient in a real kernel running this venv's Python,
offline: mcp-server-time from .cache/mcp/, FakeAnthropic on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import mcp_servers
from tests.jupyter_support import texts

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A plain ipykernel spec for this Python, in a private prefix."""
    from ipykernel.kernelspec import install

    install(prefix=str(tmp_path / "prefix"), kernel_name="agno-nb-mcp-test")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "prefix" / "share" / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("MCP_SERVER_TIME", str(mcp_servers.time_server()))
    return "agno-nb-mcp-test"


def test_the_mcp_notebook_runs_offline_in_a_kernel(kernel: str, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / "mcp.ipynb", as_version=4)
    client = NotebookClient(
        nb, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    )
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
