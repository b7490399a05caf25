"""The quickstart in a real JupyterLab, in Debian's Chromium driven by Playwright.

Two paths: Approve (the continuation and the final answer appear in the same output as
the widget) and Reject with a reason (the model's reply to the rejection appears there).
Screenshots go to ``test-artifacts/``. Select these tests with ``-m browser``; they skip
only when Chromium (``apt-get install -y chromium``) or Playwright is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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

#: records every text a rendered Markdown output shows, with the time it showed it
WATCH_MARKDOWN = """() => {
  window.__agnoSeen = [];
  const seen = new Map();
  new MutationObserver(() => {
    document.querySelectorAll('.jp-OutputArea .jp-RenderedMarkdown').forEach(el => {
      const text = el.textContent.trim();
      if (seen.get(el) !== text) {
        seen.set(el, text);
        window.__agnoSeen.push({t: performance.now(), text});
      }
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab with private dirs; its kernels preload the extension and import this
    checkout."""
    with LabServer(tmp_path_factory.mktemp("lab"), pythonpath=str(ROOT)) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def open_quickstart(lab: LabServer, browser: Any, name: str) -> Any:
    """A fresh copy of the quickstart, opened and run to its pause; returns the page."""
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", lab.root / name)
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.add_init_script(f"window.addEventListener('load', {WATCH_MARKDOWN})")
    run_all(page, f"{lab.url}/lab/tree/{name}?reset")
    return page


def refund_cell(page: Any) -> Any:
    cell = page.locator(".jp-CodeCell").filter(has_text="Refund order 42, it arrived broken.")
    return cell.locator(".jp-OutputArea").first


def shoot(page: Any, locator: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(ARTIFACTS / f"{name}-cell.png"))
    page.screenshot(path=str(ARTIFACTS / f"{name}-page.png"), full_page=True)


def test_approve_in_the_browser_continues_the_run_in_the_same_output(
    lab: LabServer, browser: Any
) -> None:
    page = open_quickstart(lab, browser, "approve.ipynb")
    output = refund_cell(page)
    approve = output.get_by_role("button", name="Approve")
    approve.wait_for(timeout=90_000)
    assert output.get_by_text("paused: 1 approval to decide").is_visible()
    # the answer to the first prompt streamed: its Markdown output showed partial texts
    seen = [s["text"] for s in page.evaluate("() => window.__agnoSeen")]
    final = next((t for t in seen if t.endswith("Anything else I can help you with?")), None)
    assert final is not None, f"the answer was not seen: {seen}"
    partial = {t for t in seen if final.startswith(t) and t != final and t.startswith("Here")}
    assert len(partial) >= 2, f"no streaming seen: {seen}"
    shoot(page, output, "approval-widget")
    approve.click()
    output.get_by_text("Anything else I can help you with?").wait_for(timeout=30_000)
    assert output.get_by_text("approved by root").is_visible()
    answer = output.locator(".jp-RenderedMarkdown").filter(has_text="Here is what I found")
    assert "refund done: refunded 30.00 on order 42" in answer.inner_text()
    completed = output.locator(".agno-footer").filter(has_text="completed")
    completed.first.wait_for(timeout=30_000)  # the footer follows the last text update
    assert completed.count() == 1
    # the continuation's footer took the place of the paused one: one footer, at the end
    assert output.locator(".agno-footer").count() == 1
    assert not output.get_by_text("paused: 1 approval to decide").is_visible()
    assert output.get_by_role("button", name="Reject").is_disabled()
    shoot(page, output, "approved")
    page.close()


def test_reject_with_a_reason_shows_the_models_reply_in_the_same_output(
    lab: LabServer, browser: Any
) -> None:
    page = open_quickstart(lab, browser, "reject.ipynb")
    output = refund_cell(page)
    output.get_by_role("button", name="Reject").wait_for(timeout=90_000)
    output.get_by_placeholder("reason for rejecting").fill("it was refunded last week")
    output.get_by_role("button", name="Reject").click()
    output.get_by_text("Tell me if I should try something else.").wait_for(timeout=30_000)
    assert output.get_by_text("rejected by root: it was refunded last week").first.is_visible()
    reply = output.locator(".jp-RenderedMarkdown").filter(has_text="I could not run")
    assert "not approved (rejected by root: it was refunded last week)" in reply.inner_text()
    assert output.get_by_role("button", name="Approve").is_disabled()
    output.locator(".agno-footer").filter(has_text="completed").wait_for(timeout=30_000)
    assert output.locator(".agno-footer").count() == 1  # the paused footer was replaced
    shoot(page, output, "rejected")
    page.close()
