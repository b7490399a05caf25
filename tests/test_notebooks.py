"""The example notebooks, executed in a real kernel (the agno-nb kernelspec) with
nbclient, offline: the demo model is FakeAnthropic on 127.0.0.1, nothing is mocked.

A browser would click Approve; here a cell inserted after the paused cell does what the
click does, through ``agno_nb.jupyter.last_approval_widgets()``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.jupyter_support import texts

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

CLICK_APPROVE = """
import agno_nb.jupyter
(w,) = agno_nb.jupyter.last_approval_widgets()
w.approve_button.click()
final = await w.wait()
print(final.status)
"""


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The agno-nb kernelspec in a private prefix; the kernel imports this checkout."""
    from agno_nb.cli import KERNEL_NAME, install_kernel

    install_kernel(prefix=str(tmp_path / "prefix"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "prefix" / "share" / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.chdir(tmp_path)
    return KERNEL_NAME


def execute(name: str, kernel: str, workdir: Path, after_tag: str | None = None) -> Any:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    if after_tag:
        at = next(i for i, c in enumerate(nb.cells) if after_tag in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(CLICK_APPROVE.strip()))
    client = NotebookClient(
        nb, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return nb


def code_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_quickstart_runs_offline_and_its_refund_continues_after_approval(
    kernel: str, tmp_path: Path
) -> None:
    nb = execute("quickstart.ipynb", kernel, tmp_path, after_tag="approval")
    cells = code_cells(nb)
    assert "scripted FakeAnthropic demo model at http://127.0.0.1:" in texts(cells[0])
    assert "refund (required)" in texts(cells[1])
    where = texts(cells[2])
    assert "Order 42 is **delivered**" in where and "<details" in where
    assert "— completed · claude-haiku-4-5 · " in where and "$0.0" in where
    paused = cells[3]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in paused.outputs)  # fmt: skip
    # the continuation's footer took the place of the paused one; the widget's text form
    # (what the saved notebook keeps) says where the run went
    assert "paused: 1 approval to decide" not in texts(paused)
    assert "— completed · claude-haiku-4-5 · " in texts(paused)
    assert "continued here, completed" in texts(paused)
    assert texts(cells[4]).strip() == "completed"
    assert texts(cells[5]).startswith("completed\nHere is what I found:")
    assert "refunded 30.00 on order 42" in texts(cells[5])
    assert "run_" in texts(cells[6])  # %agent_runs
    assert any("image/png" in o.get("data", {}) for o in cells[7].outputs)  # the waterfall
    assert "approved" in texts(cells[8]) and "refund" in texts(cells[8])  # %%agent_sql
    assert (tmp_path / "quickstart.duckdb").exists()


def test_approvals_notebook_covers_roles_edits_other_processes_and_rejections(
    kernel: str, tmp_path: Path
) -> None:
    nb = execute("approvals.ipynb", kernel, tmp_path)
    out = "\n".join(texts(c) for c in code_cells(nb))
    assert "delete_customer: this call needs the 'admin' role" in out
    assert "not valid JSON (line 1, column 2" in out
    assert "approved with edited arguments by" in out
    assert "alice rejected delete_customer" in out
    assert "refunded 25.00 on order 42" in out
    assert "rejected by alice: customers are never deleted by chat" in out
    assert "late deliveries get a voucher, not a refund" in out
    assert "0 pending approvals" in out
    assert 'before approval: {"order_id": "42", "amount": 25.0}' in out  # JSON, not repr
    printed = "".join(
        o.text for c in code_cells(nb) for o in c.outputs if o.output_type == "stream"
    )
    assert "<span" not in printed and "<b>" not in printed  # widget states, not their HTML
