"""The approval card as a person meets it, on a real IPython shell against FakeAnthropic:
the context it shows, an arguments editor that fits and keeps line breaks, Approve kept
disabled for arguments that cannot be approved (also across the decision poll), a diff
of the edit, the edit noted to the model as JSON; tool rows that show an MCP result once;
status colours that meet WCAG AA in both JupyterLab themes."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agno_nb import Approval, tool
from agno_nb.testing import FakeAnthropic, Turn
from tests.jupyter_support import magics_of
from tests.test_jupyter_approvals import ip, pause  # noqa: F401 - the ip fixture
from tests.test_jupyter_magics import run, shell  # noqa: F401 - the shell fixture

ROOT = Path(__file__).resolve().parents[1]


def plain(html: str) -> str:
    """Text of some HTML, without its <style>."""
    import html as h

    return h.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<style>.*?</style>", "", html, flags=re.S)))


def test_the_card_shows_agent_prompt_model_text_run_and_times(ip: Any) -> None:  # noqa: F811
    ip.user_ns["support"].approvals = {"refund": Approval(expires_in=timedelta(hours=1))}
    _, (refund_w, delete_w) = pause(ip)
    header = plain(refund_w.header.value)
    a = refund_w.approval
    assert header.startswith("‖ refund needs approval") and "role" not in header.split("\n")[0]
    assert "agent support" in header and f"run {a.run_id}" in header
    assert f"requested by {a.requested_by} at {a.requested_at:%Y-%m-%d %H:%M:%S} UTC" in header
    assert "(just now)" in header and f"expires {a.expires_at:%Y-%m-%d %H:%M:%S} UTC" in header
    assert "prompt: Refund order 42 and delete customer 7." in header
    said = "the model said: I will now call refund and delete_customer; this needs a person's"
    assert said in header and "<code>refund</code>" in refund_w.header.value
    delete_header = plain(delete_w.header.value)
    assert delete_header.startswith("‖ delete_customer needs approval by role 'admin'")
    assert "no expiry" in delete_header


def test_a_failed_policy_shows_its_error_on_the_card(ip: Any) -> None:  # noqa: F811
    from agno_nb import ToolCall

    def broken(call: ToolCall) -> str:
        raise KeyError("tier")

    magics_of(ip).roles = ["admin"]
    ip.user_ns["support"].approvals = {"refund": broken}
    _, (refund_w, _) = pause(ip)
    header = plain(refund_w.header.value)
    assert "needs approval by role 'admin'" in header
    assert "the approval policy failed (the approval policy of 'refund' failed: KeyError" in header


def test_approve_stays_disabled_for_bad_arguments_across_the_poll(ip: Any) -> None:  # noqa: F811
    _, (refund_w, _) = pause(ip)
    paused = refund_w.paused
    refund_w.args_editor.value = '{"order_id": "42",'
    assert refund_w.approve_button.disabled
    paused._apply_rows(paused._read())  # what the poll does every poll_interval
    assert refund_w.approve_button.disabled and not refund_w.reject_button.disabled
    assert "not valid JSON (line 1, column 19" in refund_w.message_text
    refund_w.args_editor.value = '{"order_id": "42", "amount": "lots"}'  # JSON, off-schema
    paused.refresh()
    assert refund_w.approve_button.disabled
    assert refund_w.message_text == (
        "Invalid arguments for tool 'refund': amount: Input should be a valid number, "
        "unable to parse string as a number"
    )
    refund_w.approve_button.click()  # a click that slips through is refused too
    assert refund_w.approval.status == "pending"
    refund_w.args_editor.value = '{"order_id": "42", "amount": 25}'
    paused.refresh()
    assert not refund_w.approve_button.disabled and refund_w.message_text == ""


def test_the_editor_fits_its_content_and_keeps_line_breaks(
    ip: Any,  # noqa: F811
    fake: FakeAnthropic,
) -> None:
    @tool(approval="required")
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        return f"sent {len(body)} characters to {to}"

    body = 'Dear Ana,\n\nyour refund of 30.00 is on its way ("soon").\n\n' + "x" * 300
    fake.reset([Turn.tool_call("send_email", {"to": "ana@example.com", "body": body}),
                Turn.text("Sent.")])  # fmt: skip
    ip.user_ns["support"].tools.append(send_email)
    _, (card,) = pause(ip, "%%agent support -o out\nWrite to Ana.\n")
    text = card.args_editor.value
    assert "Dear Ana,\n\nyour refund" in text  # real line breaks, not \n escapes
    assert card.args_editor.rows >= text.count("\n") + 1  # the closing } shows
    assert card.edited_args() == {"to": "ana@example.com", "body": body}  # and reads back
    assert not card.approve_button.disabled


def test_an_edit_shows_a_diff_and_reaches_the_model_as_json(ip: Any) -> None:  # noqa: F811
    _, (refund_w, delete_w) = pause(ip)
    assert refund_w.diff.value == ""
    refund_w.args_editor.value = '{"order_id": "42", "amount": 25.0, "note": "goodwill"}'
    diff = plain(refund_w.diff.value)
    assert "amount: 30.0 → 25.0" in diff and 'note: "goodwill" (added)' in diff
    assert refund_w.approve_button.disabled  # "note" is not a parameter of refund
    refund_w.args_editor.value = '{"order_id": "42", "amount": 25.0}'
    refund_w.approve_button.click()
    assert "approved with edited arguments by" in refund_w.message_text
    assert "amount: 30.0 → 25.0" in plain(refund_w.diff.value)  # kept once decided
    assert plain(refund_w.header.value).startswith("✓ refund approved")
    from agno_nb import Principal

    ip.user_ns["support"].desk.reject(
        delete_w.approval_id, Principal("alice", ["admin"]), reason="no"
    )
    refund_w.paused.refresh()
    final = ip.user_ns["out"]
    assert 'before approval: {"order_id": "42", "amount": 25.0}' in final.content


def test_widget_states_read_as_text_not_html(ip: Any) -> None:  # noqa: F811
    _, (refund_w, delete_w) = pause(ip)
    assert delete_w.message_text.startswith("You cannot decide: this call needs the 'admin'")
    assert "<" not in delete_w.message_text
    data = refund_w._repr_mimebundle_()
    assert data["text/plain"].startswith('‖ refund(order_id="42", amount=30.0) · run run_')
    refund_w.approve_button.click()
    assert refund_w.message_text.startswith("✓ approved by ")
    assert refund_w._repr_mimebundle_()["text/plain"].endswith(refund_w.message_text)


def test_an_mcp_result_shows_once_in_its_tool_row() -> None:
    from agno_nb.jupyter._render import tool_html
    from agno_nb.run import ToolExecution

    text = '{\n  "timezone": "Europe/Oslo",\n  "is_dst": false\n}'
    result = {"type": "mcp_result", "content": [{"type": "text", "text": text}],
              "structured_content": {"timezone": "Europe/Oslo", "is_dst": False}}  # fmt: skip
    row = tool_html(ToolExecution(id="t", name="get_current_time", args={}, status="completed",
                                  result=result))  # fmt: skip
    assert row.count("Europe/Oslo") == 1
    other = {**result, "structured_content": {"points": 3}}  # not in the text: shown
    row = tool_html(ToolExecution(id="t", name="x", args={}, status="completed", result=other))
    assert "Europe/Oslo" in row and "&quot;points&quot;: 3" in row


# -- WCAG AA contrast of the status colours, in both JupyterLab themes ----------------


def _luminance(hex_color: str) -> float:
    value = hex_color.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def theme_variables(theme: str) -> dict[str, str]:
    """The CSS variables of an installed JupyterLab theme (light or dark), resolved."""
    import sys

    css = next(
        Path(sys.prefix, "share/jupyter/lab/themes/@jupyterlab").glob(
            f"theme-{theme}-extension/index.css"
        )
    ).read_text()
    found = dict(re.findall(r"(--[\w-]+):\s*([^;}]+)", css))

    def resolve(value: str) -> str:
        var = re.fullmatch(r"var\((--[\w-]+)(?:,\s*([^)]+))?\)", value.strip())
        if var is None:
            return {"white": "#ffffff", "black": "#000000"}.get(value.strip(), value.strip())
        name, fallback = var.groups()
        return resolve(found[name]) if name in found else resolve(fallback or "")

    return {k: resolve(v) for k, v in found.items()}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_status_colours_meet_wcag_aa_in_both_themes(theme: str) -> None:
    from agno_nb.jupyter import _render as r

    variables = theme_variables(theme)
    background = variables["--jp-layout-color0"]  # the notebook and its outputs
    for color in (r.OK, r.BAD):
        name = re.match(r"var\((--[\w-]+)", color)
        assert name is not None, f"{color} does not follow the theme"
        ratio = contrast(variables[name.group(1)], background)
        assert ratio >= 4.5, f"{color} on {background} in the {theme} theme: {ratio:.2f}:1"
    source = "".join(p.read_text() for p in (ROOT / "agno_nb" / "jupyter").glob("*.py"))
    assert not re.search(r"#c62828|#2e7d32", source)  # no fixed red or green left
