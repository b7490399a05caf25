"""The approval card in a real JupyterLab, in Chromium: what it shows (both themes, with
WCAG AA status colours), Approve kept disabled for bad arguments across the decision
poll, and the way back after a kernel restart or a reopened notebook (``%agent_resume``).

Screenshots go to ``test-artifacts/`` (``docs/img/`` has copies for the docs). Select
these tests with ``-m browser``; they skip when Chromium or Playwright is missing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from agno_nb.testing.lab import KERNEL_READY, LabServer
from tests.test_approval_card import contrast
from tests.test_browser import ARTIFACTS, browser, lab, open_quickstart, refund_cell  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

#: the colour of an element and the first opaque background behind it, as #rrggbb
COLORS = """(el) => {
  const hex = (rgb) => '#' + rgb.match(/\\d+/g).slice(0, 3)
    .map(n => Number(n).toString(16).padStart(2, '0')).join('');
  let bg = null;
  for (let e = el; e && !bg; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    const alpha = c.startsWith('rgba') ? Number(c.split(',')[3].replace(')', '')) : 1;
    if (alpha > 0.5) bg = c;
  }
  return [hex(getComputedStyle(el).color), hex(bg || 'rgb(255, 255, 255)')];
}"""

#: run the cells whose source contains one of the given texts, in order, then a new cell
RUN_CELLS = """async ([needles, extra]) => {
  const app = window.jupyterapp, nb = app.shell.currentWidget.content;
  for (const needle of needles) {
    nb.activeCellIndex = nb.widgets.findIndex(
      c => c.model.sharedModel.getSource().includes(needle));
    await app.commands.execute('notebook:run-cell');
  }
  if (extra) {
    nb.activeCellIndex = nb.widgets.length - 1;
    await app.commands.execute('notebook:insert-cell-below');
    nb.activeCell.model.sharedModel.setSource(extra);
    app.commands.execute('notebook:run-cell');
  }
}"""

SETUP = ["use_demo_model()", "support = Agent("]


def set_theme(page: Any, dark: bool) -> None:
    name = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', "
                  f"{{theme: '{name}'}})")  # fmt: skip
    page.wait_for_function(
        f"() => document.body.dataset.jpThemeLight === '{'false' if dark else 'true'}'"
    )
    page.wait_for_timeout(500)  # the theme's stylesheet applies


def shoot(locator: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def ratio(locator: Any) -> float:
    fg, bg = locator.evaluate(COLORS)
    return contrast(fg, bg)


def paused_run_id(output: Any) -> str:
    hint = output.locator(".agno-footer").filter(has_text="%agent_resume").first.inner_text()
    found = re.search(r"%agent_resume (run_\w+)", hint)
    assert found is not None, hint
    return found.group(1)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_card_shows_its_context_fits_its_arguments_and_meets_aa_contrast(
    lab: LabServer,  # noqa: F811
    browser: Any,  # noqa: F811
    theme: str,
) -> None:
    page = open_quickstart(lab, browser, f"card-{theme}.ipynb")
    try:
        set_theme(page, theme == "dark")
        output = refund_cell(page)
        card = output.locator(".agno-approval")
        card.get_by_role("button", name="Approve").wait_for(timeout=90_000)
        text = card.inner_text()
        said = "the model said: I will now call refund; this needs a person's approval."
        for part in ("‖ refund needs approval", "agent support", "requested by root",
                     "no expiry", "prompt: Refund order 42, it arrived broken.", said):  # fmt: skip
            assert part in text, part
        assert "role required" not in text and f"run {paused_run_id(output)}" in text
        editor = card.locator("textarea")
        fits = editor.evaluate("(t) => t.scrollHeight <= t.clientHeight + 1")
        assert fits, "the arguments editor clips its content"
        shoot(card, f"approval-card-{theme}")
        editor.fill('{"order_id": "42",')
        message = card.locator(".widget-html span").filter(has_text="not valid JSON")
        message.wait_for()
        assert ratio(message) >= 4.5, f"red on the {theme} background: {ratio(message):.2f}:1"
        editor.fill('{\n  "order_id": "42",\n  "amount": 25.0\n}')
        card.get_by_text("amount: 30.0 → 25.0").wait_for()
        shoot(card, f"approval-card-edited-{theme}")
        card.get_by_role("button", name="Approve").click()
        output.get_by_text("Anything else I can help you with?").wait_for(timeout=30_000)
        approved = card.locator(".widget-html span").filter(has_text="approved with edited")
        approved.wait_for()
        assert ratio(approved) >= 4.5, f"green on the {theme} background: {ratio(approved):.2f}:1"
        icon = output.locator(".agno-tool-completed summary span").first
        assert ratio(icon) >= 4.5, f"a tool row's ✓ in the {theme} theme: {ratio(icon):.2f}:1"
        output.locator(".agno-footer").filter(has_text="completed").wait_for(timeout=30_000)
        assert output.locator(".agno-footer").filter(has_text="paused").count() == 0
        shoot(output, f"approved-output-{theme}")
    finally:
        set_theme(page, False)  # the theme is a user setting: shared by the other tests
        page.close()


def test_approve_stays_disabled_while_the_arguments_do_not_fit(
    lab: LabServer,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    page = open_quickstart(lab, browser, "invalid.ipynb")
    output = refund_cell(page)
    approve = output.get_by_role("button", name="Approve")
    approve.wait_for(timeout=90_000)
    editor = output.locator(".agno-approval textarea")
    for bad, said in (('{"order_id": "42",', "not valid JSON (line 1, column 19"),
                      ('{"order_id": "42", "amount": "lots"}',
                       "Invalid arguments for tool 'refund': amount")):  # fmt: skip
        editor.fill(bad)
        output.get_by_text(said).wait_for()
        page.wait_for_timeout(2_500)  # two decision polls (poll_interval = 1 s)
        assert approve.is_disabled(), f"Approve re-enabled with {bad}"
        assert output.get_by_text(said).is_visible()
    shoot(output.locator(".agno-approval"), "approval-card-invalid")
    editor.fill('{"order_id": "42", "amount": 25}')
    page.wait_for_function("(b) => !b.disabled", arg=approve.element_handle())
    approve.click()
    output.get_by_text("Anything else I can help you with?").wait_for(timeout=30_000)
    page.close()


def test_after_a_kernel_restart_the_card_says_so_and_agent_resume_continues_the_run(
    lab: LabServer,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    page = open_quickstart(lab, browser, "restart.ipynb")
    output = refund_cell(page)
    output.get_by_role("button", name="Approve").wait_for(timeout=90_000)
    run_id = paused_run_id(output)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                  ".kernel.restart()")  # fmt: skip
    page.wait_for_function(KERNEL_READY, timeout=60_000)
    gone = output.locator(".agno-gone")
    gone.wait_for(state="visible", timeout=30_000)
    assert f"%agent_resume {run_id}" in gone.inner_text()
    inert = output.get_by_role("button", name="Approve").evaluate(
        "(b) => getComputedStyle(b).pointerEvents"
    )
    assert inert == "none"  # a click on a dead widget would do nothing and say nothing
    shoot(output, "restarted-card")
    page.evaluate(RUN_CELLS, [SETUP, f"%agent_resume {run_id}"])
    resumed = page.locator(".jp-CodeCell").last.locator(".jp-OutputArea").first
    resumed.get_by_role("button", name="Approve").wait_for(timeout=60_000)
    assert f"Resuming run {run_id} of agent support" in resumed.inner_text()
    resumed.get_by_role("button", name="Approve").click()
    resumed.get_by_text("Anything else I can help you with?").wait_for(timeout=30_000)
    resumed.locator(".agno-footer").filter(has_text="completed").wait_for(timeout=30_000)
    assert resumed.locator(".agno-footer").filter(has_text="paused").count() == 0
    shoot(resumed, "resumed-output")
    page.close()


def test_a_reopened_notebook_says_how_to_resume_its_paused_run(
    lab: LabServer,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    page = open_quickstart(lab, browser, "reopen.ipynb")
    output = refund_cell(page)
    output.get_by_role("button", name="Approve").wait_for(timeout=90_000)
    run_id = paused_run_id(output)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.wait_for_timeout(1_000)
    page.goto(f"{lab.url}/lab/tree/reopen.ipynb?reset")
    page.wait_for_function(KERNEL_READY, timeout=60_000)
    output = refund_cell(page)
    hint = output.locator(".agno-footer").filter(has_text=f"%agent_resume {run_id}")
    hint.wait_for(timeout=30_000)
    page.wait_for_timeout(2_000)  # the widget manager gives up on the saved widget
    shoot(output, "reopened-output")
    page.evaluate(RUN_CELLS, [SETUP, "%agent_resume"])  # the last paused run
    resumed = page.locator(".jp-CodeCell").last.locator(".jp-OutputArea").first
    resumed.get_by_role("button", name="Approve").click(timeout=60_000)
    resumed.get_by_text("Anything else I can help you with?").wait_for(timeout=30_000)
    page.close()
