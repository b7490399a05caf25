"""The first ``%agent`` cell of a fresh kernel: first token on screen minus the model's own
time to first token, in JupyterLab in Chromium (part of ``python -m bench.notebook``).

Each trial restarts the kernel (a new process, the agno-nb kernelspec: the extension is
preloaded and starts its background warm-up), then either

* *typed*: runs the setup cell (imports agno_nb, defines the agent), waits ``think``
  seconds (the user typing the ``%agent`` cell), and times the ``%agent`` cell from its
  run-cell command to the first token in the DOM; or
* *run all*: times Run All from the command to the ``%agent`` cell's first token in the
  DOM (setup cell included), right after the kernel is ready: the worst case.

FakeAnthropic on 127.0.0.1 waits ``ttft`` seconds before it answers: the model's own time
to first token, subtracted from each time. One untimed run comes first, so that the
notebook's database exists (a notebook opened again; the warm-up opens no new file).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bench._stats import progress

if TYPE_CHECKING:
    from agno_nb.testing.lab import LabServer

MARKER = "TOKEN0"
MODEL = "claude-haiku-4-5"
SETUP = """from agno_nb import Agent, Claude
bench = Agent("bench", model=Claude({model!r}, base_url={url!r}, api_key="bench-key"),
              db="cold.duckdb")
print("READY")"""
CELLS = [SETUP, "%agent bench Go"]
WARM_STATS = "import json; from agno_nb.jupyter import _warm; print(json.dumps(_warm.seconds))"

#: run ``code`` in the kernel (no cell); its printed text
EXECUTE = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code});
  const texts = [];
  future.onIOPub = m => { if (m.header.msg_type === 'stream') texts.push(m.content.text); };
  await future.done;
  return texts.join('');
}"""

RESTART = """async () => {
  const widget = window.jupyterapp.shell.currentWidget;
  widget.content.widgets.forEach(cell => cell.outputArea && cell.outputArea.model.clear());
  await widget.sessionContext.session.kernel.restart();
}"""

#: run cell ``index`` (or all cells) and resolve with the ms until ``marker`` shows in the
#: output of cell ``watch``
MEASURE = """async ([index, watch, marker]) => {
  const app = window.jupyterapp, nb = app.shell.currentWidget.content;
  const cell = nb.widgets[watch];
  cell.outputArea.model.clear();
  if (index >= 0) nb.activeCellIndex = index;
  await new Promise(r => setTimeout(r, 30));
  return await new Promise(resolve => {
    const start = performance.now();
    const seen = new MutationObserver(() => {
      const out = cell.node.querySelector('.jp-OutputArea');
      if (out && out.textContent.includes(marker)) {
        seen.disconnect();
        resolve(performance.now() - start);
      }
    });
    seen.observe(cell.node, {subtree: true, childList: true, characterData: true});
    app.commands.execute(index >= 0 ? 'notebook:run-cell' : 'notebook:run-all-cells');
  });
}"""


@contextmanager
def _lab(lab: LabServer, warm_up: bool) -> Iterator[LabServer]:
    """``lab`` started with ``AGNO_NB_WARM_UP`` set for its kernels, stopped on exit."""
    old = os.environ.get("AGNO_NB_WARM_UP")
    os.environ["AGNO_NB_WARM_UP"] = "1" if warm_up else "0"
    try:
        lab.start()
    finally:
        if old is None:
            os.environ.pop("AGNO_NB_WARM_UP", None)
        else:
            os.environ["AGNO_NB_WARM_UP"] = old
    try:
        yield lab
    finally:
        lab.stop()


def _notebook(folder: Path, url: str) -> str:
    import nbformat

    cells = [c.format(url=url, model=MODEL) for c in CELLS]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / "cold.ipynb")
    return "cold.ipynb"


def first_token_cold(
    trials: int, *, ttft: float, think: float, warm_up: bool = True
) -> dict[str, list[float]]:
    """ms over the model's ``ttft`` of each trial: ``typed`` and (with ``warm_up``)
    ``run_all``; and ``warm_up``: the seconds the background warm-up took in the typed
    trials. ``warm_up=False``: kernels with ``AGNO_NB_WARM_UP=0``, the first run as it was
    before the warm-up (typed trials only)."""
    from agno_nb.testing import FakeAnthropic, Turn
    from agno_nb.testing.lab import KERNEL_READY, LabServer, chromium

    reply = Turn.text([f"{MARKER} ", *(f"word{i} " for i in range(10))], delay=ttft)
    fake = FakeAnthropic(handler=lambda request: reply)
    times: dict[str, list[float]] = {"typed": [], "run_all": [], "warm_up": []}
    root = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as tmp, fake.serve() as url:
        name = _notebook(Path(tmp), url)
        with _lab(LabServer(tmp, pythonpath=root), warm_up) as lab, chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{lab.url}/lab/tree/{name}?reset")
            page.wait_for_function(KERNEL_READY, timeout=90_000)

            def fresh_kernel() -> None:
                page.evaluate(RESTART)
                page.wait_for_function(KERNEL_READY, timeout=90_000)

            def measure(index: int, watch: int, marker: str = MARKER) -> float:
                ms: float = page.evaluate(MEASURE, [index, watch, marker])
                return ms

            measure(0, 0, "READY")  # one untimed run first: the notebook's database exists,
            measure(1, 1)  # as when a notebook is opened again (see _warm: no new files)
            page.wait_for_function(KERNEL_READY, timeout=60_000)
            for i in range(trials):
                progress(f"notebook cold first token {i + 1}/{trials} (warm-up {warm_up})")
                fresh_kernel()
                measure(0, 0, "READY")  # the setup cell
                page.wait_for_timeout(think * 1000)
                times["typed"].append(measure(1, 1) - ttft * 1000)
                page.wait_for_function(KERNEL_READY, timeout=60_000)
                spent = json.loads(page.evaluate(EXECUTE, WARM_STATS).strip() or "{}")
                times["warm_up"].append(sum(spent.values()))
                if not warm_up:
                    continue
                fresh_kernel()
                times["run_all"].append(measure(-1, 1) - ttft * 1000)
                page.wait_for_function(KERNEL_READY, timeout=60_000)
    return times
