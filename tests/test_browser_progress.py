"""What items 10 and 13 of issue #16 look like in a real JupyterLab in Chromium: the compact
``%agent_runs`` / ``%agent_traces`` tables fit a 1,000 px page (light and dark theme), and
a run shows "starting", then counts the seconds of a running tool and of a long model wait.
Screenshots go to ``test-artifacts/``; select with ``-m browser``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agno_nb.testing import FakeAnthropic, RecordedRequest, Turn
from agno_nb.testing.lab import CHROMIUM, LabServer, chromium, run_all

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed: apt-get install -y chromium", allow_module_level=True)
try:
    import playwright.sync_api  # noqa: F401
except ImportError:
    pytest.skip("Playwright is not installed: pip install playwright", allow_module_level=True)

SETUP = """import time
from agno_nb import Agent, Claude, tool

@tool
def slow(seconds: float) -> str:
    \"\"\"Take a while.\"\"\"
    time.sleep(seconds)
    return "done waiting"

model = Claude("claude-haiku-4-5", base_url={url!r}, api_key="sk-test", max_retries=0)
support = Agent("support", model=model, tools=[slow], db={db!r})"""
RUNS = """for i, prompt in enumerate(["Summarise order 42 in **detail**, please", "Hello",
                                "Summarise order 7", "What changed since yesterday?"]):
    support.run(prompt, session_id=f"session-{i % 2}")"""
ANSWER = (
    "# Order summary\n\nHere is **everything** about it: the parcel left the warehouse on "
    "Monday, was scanned in Lyon on Tuesday and delivered on Wednesday at 10:42. The "
    "customer paid 30.00 EUR by card; no refund is pending.\n\n- status: delivered\n"
)
RUN_COLUMNS = ["status", "run", "session", "input", "output", "tools", "tokens", "cost",
               "duration", "age"]  # fmt: skip
TRACE_COLUMNS = ["status", "run", "input", "output", "model", "tools", "tokens", "cost",
                 "duration", "age"]  # fmt: skip

#: records every progress line and tool row text shown, with the time it showed
WATCH = """() => {
  window.__agnoSeen = [];
  const last = new Map();
  new MutationObserver(() => {
    document.querySelectorAll('.agno-progress, .agno-tool summary').forEach(el => {
      const text = el.textContent.trim();
      if (last.get(el) !== text) {
        last.set(el, text);
        window.__agnoSeen.push({t: performance.now(), text});
      }
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

#: for every agno table: its width, the width its output area offers, its right edge
MEASURE_TABLES = """() => [...document.querySelectorAll('table.agno-table')].map(t => {
  const area = t.closest('.jp-OutputArea-output');
  return {view: t.className, scroll: t.scrollWidth, width: t.getBoundingClientRect().width,
          room: area.clientWidth, areaScroll: area.scrollWidth,
          right: t.getBoundingClientRect().right,
          headers: [...t.querySelectorAll('th')].map(th => th.textContent)};
})"""


def handler(request: RecordedRequest) -> Turn:
    prompt = str(request.messages[0]["content"])
    if "slowly" in prompt:
        if len(request.messages) == 1:
            return Turn.tool_call("slow", {"seconds": 2.2}, reply="Counting.")
        return Turn.text(["All ", "done."], delay=1.7)
    return Turn.text([ANSWER[i : i + 40] for i in range(0, len(ANSWER), 40)])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(handler=handler)
    with server.serve():
        yield server


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    with LabServer(tmp_path_factory.mktemp("lab"), pythonpath=str(ROOT)) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def write_notebook(lab: LabServer, name: str, cells: list[str]) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nbformat.write(nb, lab.root / name)
    return f"{lab.url}/lab/tree/{name}?reset"


def shoot(locator: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.scroll_into_view_if_needed()
    path = ARTIFACTS / f"{name}.png"
    locator.screenshot(path=str(path))
    return path


def test_runs_and_traces_tables_fit_a_1000px_notebook_in_both_themes(
    lab: LabServer, browser: Any, fake: FakeAnthropic
) -> None:
    cells = [SETUP.format(url=fake.url, db="tables.duckdb"), RUNS, "%agent_runs support",
             "%agent_traces support"]  # fmt: skip
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    run_all(page, write_notebook(lab, "tables.ipynb", cells))
    page.locator("table.agno-table-traces").wait_for(timeout=90_000)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    page.wait_for_timeout(500)
    tables = {t["view"].split()[-1]: t for t in page.evaluate(MEASURE_TABLES)}
    assert tables["agno-table-runs"]["headers"] == RUN_COLUMNS
    assert tables["agno-table-traces"]["headers"] == TRACE_COLUMNS
    for found in tables.values():
        assert found["scroll"] <= found["room"], found  # no horizontal scrolling
        assert found["areaScroll"] <= found["room"], found
        assert found["right"] <= 1000, found
    runs = page.locator("table.agno-table-runs")
    assert runs.locator("tbody tr").count() == 4
    first = runs.locator("tbody tr").first  # newest first
    assert "What changed since yesterday?" in first.inner_text()
    answer = runs.locator("tbody tr").last.locator("td").nth(4)
    assert answer.inner_text().startswith("Order summary Here is everything about it")
    run_id = runs.locator("tbody tr").first.locator("td").nth(1).locator("span")
    assert run_id.get_attribute("title").startswith("run_")  # the full id on hover
    assert len(run_id.inner_text()) == 36  # and all of it copied when selected
    shoot(page.locator(".jp-Notebook"), "tables-light")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(500)
    for found in page.evaluate(MEASURE_TABLES):
        assert found["scroll"] <= found["room"], found
    shoot(page.locator(".jp-Notebook"), "tables-dark")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Light'})"
    )
    page.close()


def test_a_fresh_kernel_shows_starting_then_counts_a_tool_and_a_model_wait(
    lab: LabServer, browser: Any, fake: FakeAnthropic
) -> None:
    cells = [SETUP.format(url=fake.url, db="progress.duckdb"), "%agent support Count slowly"]
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.add_init_script(f"window.addEventListener('load', {WATCH})")
    run_all(page, write_notebook(lab, "progress.ipynb", cells))
    output = page.locator(".jp-CodeCell").nth(1).locator(".jp-OutputArea")
    output.get_by_text("⋯ starting · 0.5 s").wait_for(timeout=90_000)
    shoot(output, "progress-starting")
    output.get_by_text("running · 1.0 s").wait_for(timeout=90_000)
    shoot(output, "progress-tool")
    output.get_by_text("waiting for claude-haiku-4-5 · 1.0 s").wait_for(timeout=30_000)
    shoot(output, "progress-model-wait")
    footer = output.locator(".agno-footer").filter(has_text="completed")
    footer.wait_for(timeout=30_000)
    shoot(output, "progress-done")
    seen = [s["text"] for s in page.evaluate("() => window.__agnoSeen")]
    assert seen[0] == "⋯ starting", seen  # the kernel was still importing in the background
    counted = [m.group(1) for t in seen if (m := re.search(r"running · ([\d.]+ s)$", t))]
    assert counted == ["0.5 s", "1.0 s", "1.5 s", "2.0 s"], seen
    assert output.locator(".agno-progress").count() == 0  # the answer took its place
    assert output.locator(".jp-RenderedMarkdown").last.inner_text() == "All done."
    # "first token" counts from the request that answered ("Counting."), not from the
    # start of a run that waited for the warm-up, ran a tool and waited for the model
    text = footer.inner_text()
    first_token = int(text.split("first token ")[1].split(" ms")[0])
    seconds = float(text.split(" s · first token")[0].split(" · ")[-1])
    assert first_token < 1_000 and seconds > 3.5, text
    page.close()
