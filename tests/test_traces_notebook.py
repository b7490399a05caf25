"""notebooks/traces.ipynb runs in a real kernel (nbclient), offline, and shows its
DataFrames and pictures."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "agno-nb-traces-test"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec for this venv's python in a private JUPYTER_PATH (works from a clean
    venv with ipykernel installed, whatever kernels the machine has)."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel_json = {"argv": argv, "display_name": "agno-nb tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel_json))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return KERNEL


def _outputs(cell: Any) -> tuple[str, set[str]]:
    text, kinds = [], set()
    for output in cell.get("outputs", []):
        assert output.output_type != "error", f"{output.ename}: {output.evalue}"
        if output.output_type == "stream":
            text.append(output.text)
        for kind, value in output.get("data", {}).items():
            kinds.add(kind)
            if kind == "text/plain":
                text.append(value)
    return "\n".join(text), kinds


def test_the_traces_notebook_analyses_a_few_hundred_runs(kernel: str, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / "traces.ipynb", as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=120,
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    started = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - started
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [_outputs(c) for c in code]
    everything = "\n".join(text for text, _ in outputs)
    assert "['paused', 'paused', 'paused']" in everything
    assert "['completed', 'completed', 'completed']" in everything
    assert "283 runs" in everything
    pictures = sum("image/png" in kinds for _, kinds in outputs)
    assert pictures == 4  # latency, two waterfalls, usage
    assert "TimeoutError" in everything  # the failing check_stock calls
    assert "order 1234 was delivered intact" in everything
    assert (tmp_path / "traces.duckdb").exists()
    assert elapsed < 90, f"the notebook took {elapsed:.0f} s"
