"""Notebook benchmarks: ``%load_ext`` time, and cell execution to the first streamed token
on screen, in a real JupyterLab in Chromium, against FakeAnthropic on loopback.

``python -m bench.notebook [--runs N] [--cold-runs N] [--think S] [--ttft S] [--no-write]``
measures and replaces the "Notebook" section of ``bench/RESULTS.md`` (the rest of the file
is left alone). ``notebook(ctx)`` is the same section for ``python -m bench``.

First token, three ways, interleaved, warm (after two unmeasured runs of each):

* *SDK in the kernel*: the raw ``AsyncAnthropic`` stream's first text delta, timed in
  Python inside the kernel: the model's own first-token time.
* *raw SDK cell*: a cell that prints the SDK's first delta, from "run cell" in the browser
  to the token in the DOM: what any code pays through Jupyter (websocket, kernel, render).
* *%agent cell*: ``%agent bench ...``, from "run cell" to the token in the DOM.

And cold, a fresh kernel per trial (``bench._cold``): the first ``%agent`` cell's first
token on screen minus the model's own time to first token, typed a few seconds after the
setup cell (the background warm-up's case) and by Run All right after the kernel starts;
and typed again with the warm-up off (``AGNO_NB_WARM_UP=0``): the first run as it was.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench._cold import first_token_cold
from bench._report import Section
from bench._stats import progress, summarize

if TYPE_CHECKING:
    from bench._context import Context

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
MARKER = "TOKEN0"
MODEL = "claude-haiku-4-5"

LOAD_EXT = """
import time
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
c = Config(); c.HistoryManager.hist_file = ":memory:"
ip = InteractiveShell.instance(config=c)
start = time.perf_counter()
ip.run_line_magic("load_ext", "agno_nb.jupyter")
print((time.perf_counter() - start) * 1000)
"""

SETUP = """
import json, time
from IPython.display import Markdown, display
from anthropic import AsyncAnthropic
from agno_nb import Agent, Claude
URL, KEY, MODEL = {url!r}, "bench-key", {model!r}
bench = Agent("bench", model=Claude(MODEL, base_url=URL, api_key=KEY), db="bench.duckdb")
client = AsyncAnthropic(base_url=URL, api_key=KEY)
MESSAGES = [{{"role": "user", "content": "Go"}}]
"""
AGENT_CELL = "%agent bench Go"
PRINT_CELL = f"print({MARKER!r})"
MARKDOWN_CELL = f"display(Markdown({MARKER!r}), display_id=True)"
RAW_CELL = """
async with client.messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as s:
    async for event in s:
        if event.type == "text":
            print(event.text, end="", flush=True)
"""
SDK_TIMING = """
samples = []
for _ in range({runs}):
    start, first = time.perf_counter(), None
    async with client.messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as s:
        async for event in s:
            if event.type == "text" and first is None:
                first = time.perf_counter()
    samples.append((first - start) * 1000)
print(json.dumps(samples))
"""

#: run cell ``index`` and resolve with the ms until ``marker`` shows in its output
MEASURE = """async ([index, marker]) => {
  const app = window.jupyterapp, nb = app.shell.currentWidget.content;
  nb.activeCellIndex = index;
  const cell = nb.widgets[index];
  cell.outputArea.model.clear();
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
    app.commands.execute('notebook:run-cell');
  });
}"""

EXECUTE = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code});
  const texts = [];
  future.onIOPub = m => {
    if (m.header.msg_type === 'stream') texts.push(m.content.text);
    if (m.header.msg_type === 'error') texts.push('ERROR ' + m.content.evalue);
  };
  await future.done;
  return texts.join('');
}"""


def load_ext_ms(runs: int) -> list[float]:
    """``%load_ext agno_nb.jupyter`` in fresh processes (IPython already imported)."""
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", LOAD_EXT], capture_output=True, text=True, check=True, cwd=ROOT
        )
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return samples


def _notebook(folder: Path, url: str) -> str:
    import nbformat

    cells = [SETUP.format(url=url, model=MODEL), AGENT_CELL, RAW_CELL, PRINT_CELL, MARKDOWN_CELL]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.strip()) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / "bench.ipynb")
    return "bench.ipynb"


def first_token(runs: int) -> dict[str, list[float]]:
    """First-token times (ms) of the three ways (see the module docstring)."""
    from agno_nb.testing import FakeAnthropic, Turn
    from agno_nb.testing.lab import KERNEL_READY, LabServer, chromium

    reply = Turn.text([f"{MARKER} ", *(f"word{i} " for i in range(30))])
    fake = FakeAnthropic(handler=lambda request: reply)
    times: dict[str, list[float]] = {
        "sdk": [],
        "raw": [],
        "agent": [],
        "print": [],
        "markdown": [],
        "cold": [],
    }
    with tempfile.TemporaryDirectory() as tmp, fake.serve() as url:
        name = _notebook(Path(tmp), url)
        with LabServer(tmp, pythonpath=str(ROOT)) as lab, chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{lab.url}/lab/tree/{name}?reset")
            page.wait_for_function(KERNEL_READY, timeout=90_000)
            out = page.evaluate(EXECUTE, SETUP.format(url=url, model=MODEL))
            if "ERROR" in out:
                raise RuntimeError(out)

            def measure(index: int) -> float:
                ms: float = page.evaluate(MEASURE, [index, MARKER])
                page.wait_for_function(KERNEL_READY, timeout=60_000)
                page.wait_for_timeout(150)  # let the run's last updates land
                return ms

            times["cold"].append(measure(1))
            ways = {"agent": 1, "raw": 2, "print": 3, "markdown": 4}
            for _ in range(2):
                for index in ways.values():
                    measure(index)
            for i in range(runs):
                progress(f"notebook first token {i + 1}/{runs}")
                for way, index in ways.items():
                    times[way].append(measure(index))
            out = page.evaluate(EXECUTE, SDK_TIMING.format(runs=runs))
            times["sdk"] = json.loads(out.strip().splitlines()[-1])
    return times


#: a fresh kernel's first %agent: the model's time to first token (s), the user's typing (s)
TTFT, THINK, TARGET_COLD_MS = 0.3, 3.0, 500.0


def section(runs: int, cold_runs: int = 5, *, think: float = THINK, ttft: float = TTFT) -> Section:
    started = time.perf_counter()
    progress("notebook: %load_ext")
    load = summarize([ms / 1000 for ms in load_ext_ms(max(5, runs))])
    progress("notebook: first token in JupyterLab + Chromium")
    times = first_token(runs)
    progress("notebook: the first %agent of a fresh kernel")
    cold = first_token_cold(cold_runs, ttft=ttft, think=think)
    off = first_token_cold(max(3, cold_runs // 2), ttft=ttft, think=think, warm_up=False)
    s = {k: summarize([ms / 1000 for ms in v]) for k, v in times.items() if k != "cold"}
    s |= {k: summarize([ms / 1000 for ms in cold[k]]) for k in ("typed", "run_all")}
    s["off"] = summarize([ms / 1000 for ms in off["typed"]])
    s["warm_up"] = summarize(cold["warm_up"])
    result = Section(
        "Notebook",
        ["measure", "median ms", "p90 ms", "min ms", "n"],
        "Against FakeAnthropic on 127.0.0.1 (a 31-delta answer, no model delay); JupyterLab "
        "4.6 in headless Chromium (Playwright), kernel with the agno-nb kernelspec. Browser "
        "times run from the notebook's run-cell command to the first token in the DOM.",
    )
    rows = [
        ("`%load_ext agno_nb` (fresh process)", load),
        ("SDK first token, timed in the kernel (the model's own)", s["sdk"]),
        ("`print(...)` cell: run cell → text in the DOM (Jupyter's floor)", s["print"]),
        ("`display(Markdown(...))` cell: run cell → Markdown in the DOM", s["markdown"]),
        ("raw SDK cell: run cell → first token in the DOM", s["raw"]),
        ("`%agent` cell: run cell → first token in the DOM", s["agent"]),
        (f"fresh kernel, first `%agent` cell typed {think:g} s after the setup cell: first "
         f"token in the DOM minus the model's TTFT ({ttft * 1000:.0f} ms)", s["typed"]),
        ("fresh kernel, Run All as soon as the kernel is ready: first token of its `%agent` "
         "cell in the DOM minus the model's TTFT", s["run_all"]),
        ("... typed, with the warm-up off (`AGNO_NB_WARM_UP=0`: the first run as it was)",
         s["off"]),
        ("fresh kernel: the background warm-up's work (imports, client, store), in all",
         s["warm_up"]),
    ]  # fmt: skip
    for label, stats in rows:
        result.add(label, f"{stats['median']:.1f}", f"{stats['p90']:.1f}",
                   f"{stats['min']:.1f}", int(stats["n"]))  # fmt: skip
    paired = statistics.median(a - r for a, r in zip(times["agent"], times["raw"], strict=True))
    over_model = s["agent"]["median"] - s["sdk"]["median"]
    floor = s["print"]["median"] - s["sdk"]["median"]
    result.check("`%load_ext` ≤ 150 ms", f"{load['median']:.1f} ms", load["median"] <= 150)
    result.check(
        "`%agent` first token on screen ≤ 30 ms over the model's own (seen through the "
        "same notebook: the raw SDK cell)",
        f"{paired:+.1f} ms (median of paired runs)",
        paired <= 30,
    )
    worst = max(cold["typed"])
    result.check(
        f"fresh kernel: first `%agent` first token on screen ≤ {TARGET_COLD_MS:.0f} ms over "
        f"the model's own TTFT (typed {think:g} s after the setup cell; the worst trial)",
        f"{s['typed']['median']:+.0f} ms median, {worst:+.0f} ms worst (n={len(cold['typed'])})",
        worst <= TARGET_COLD_MS,
    )
    result.notes += [
        f"Against the model's first token timed inside the kernel, `%agent` shows its first "
        f"token {over_model:+.1f} ms later (median); most of that is Jupyter's own path "
        f"(run cell → kernel → browser): a bare `print` cell already takes {floor:+.1f} ms "
        "over it. agno-nb's cost is the paired difference with the raw SDK cell above.",
        f"Cold, in the warm kernel's notebook: the first `%agent` run took "
        f"{times['cold'][0]:.0f} ms to its first token (its setup cell had imported "
        "anthropic).",
        "Fresh kernel: each trial restarts the kernel (agno-nb kernelspec, extension "
        "preloaded), then runs the setup cell (`from agno_nb import Agent, Claude`, an agent "
        f"on a DuckDB file), waits {think:g} s (the user typing) and runs `%agent bench Go`; "
        f"FakeAnthropic answers after {ttft * 1000:.0f} ms. The warm-up starts when the "
        "extension loads (imports of anthropic, httpx2, pydantic, duckdb, pyarrow and the run "
        "path), then builds each new agent's SDK client and opens its store after the cell "
        "that defines it. One untimed run first creates the database (the warm-up opens no "
        "new file). Run All waits for the same imports (it shows a `starting` line meanwhile). "
        f"Without the warm-up the typed first run took {s['off']['median']:+.0f} ms median "
        f"(worst {max(off['typed']):+.0f} ms) over the model's TTFT.",
        "The first token is sent at once; later updates are throttled to one per "
        "`%config AgentMagics.update_interval` (50 ms). Browser times are noisy on a loaded "
        "2-core machine: compare medians of the interleaved runs.",
    ]
    result.seconds = time.perf_counter() - started
    return result


def notebook(ctx: Context) -> Section:
    """The section for ``python -m bench``."""
    return section(max(5, round(20 * ctx.scale)))


def replace_section(text: str, rendered: str) -> str:
    """``text`` with its "## Notebook" section replaced by ``rendered`` (or added)."""
    pattern = re.compile(r"^## Notebook\n.*?(?=^## |^Whole bench|\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: rendered + "\n", text, count=1)
    at = text.find("\nWhole bench")
    return text + "\n" + rendered if at < 0 else text[:at] + "\n" + rendered + text[at:]


def main(argv: list[str] | None = None) -> int:
    from bench._report import render

    parser = argparse.ArgumentParser(prog="python -m bench.notebook", description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="measured runs per way")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh-kernel trials")
    parser.add_argument("--think", type=float, default=THINK, help="s between setup and %%agent")
    parser.add_argument("--ttft", type=float, default=TTFT, help="the fake model's TTFT, s")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    result = section(args.runs, args.cold_runs, think=args.think, ttft=args.ttft)
    command = " ".join(["python -m bench.notebook", *(argv if argv is not None else sys.argv[1:])])
    result.notes.append(f"Command: `{command}` (from the repository root).")
    rendered = render(result)
    print(rendered)
    if not args.no_write:
        old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
        RESULTS.write_text(replace_section(old, rendered), encoding="utf-8")
        progress(f"wrote the Notebook section of {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
