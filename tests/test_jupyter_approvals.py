"""Approval widgets, continuations and the store magics, on a real IPython shell against
FakeAnthropic over loopback. Widgets are driven as the front end does: values set on
their traits, ``button.click()``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agno_nb import Principal
from agno_nb.testing import FakeAnthropic, Turn
from agno_nb.testing.demo import story_handler
from tests.jupyter_support import magics_of, support_agent
from tests.test_jupyter_magics import run, shell  # noqa: F401 - the shell fixture

ROOT = Path(__file__).resolve().parents[1]
TWO_CALLS = "%%agent support -o out\nRefund order 42 and delete customer 7.\n"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def ip(shell: Any, fake: FakeAnthropic, db_path: str) -> Iterator[Any]:  # noqa: F811
    fake.reset(handler=story_handler)
    magics = magics_of(shell)
    magics.display_mode = "rich"
    shell.user_ns["support"] = support_agent(fake.url or "", db_path)
    yield shell
    magics.sessions.clear()
    for name, value in magics.trait_defaults().items():
        if magics.trait_metadata(name, "config"):
            setattr(magics, name, value)
    for name in ("support", "out", "inbox"):
        shell.user_ns.pop(name, None)


def pause(ip: Any, cell: str = TWO_CALLS) -> tuple[Any, list[Any]]:
    from IPython.utils.capture import capture_output

    import agno_nb.jupyter

    with capture_output() as captured:
        run(ip, cell)
    widgets = [o.data for o in captured.outputs if WIDGET in o.data]
    assert widgets and widgets[0]["text/plain"].startswith("Paused run run_")
    assert "paused: " in captured.outputs[-1].data["text/plain"]
    return captured, agno_nb.jupyter.last_approval_widgets()


def output_text(widget: Any) -> str:
    outputs = widget.paused.view.sink.output.outputs
    return "\n".join(o["data"].get("text/plain", "") for o in outputs)


def footer_text(widget: Any) -> str:
    """The cell's footer: the paused one, replaced by the continuation's."""
    return str(widget.paused.view.footer_into.footer_block.text)


def test_a_pause_shows_one_widget_per_call_and_disables_what_you_may_not_decide(
    ip: Any,
) -> None:
    _, (refund_w, delete_w) = pause(ip)
    assert "refund" in refund_w.header.value and "requested by <b>" in refund_w.header.value
    assert '"amount": 30.0' in refund_w.args_editor.value
    assert not refund_w.approve_button.disabled and refund_w.problem() is None
    assert delete_w.approve_button.disabled and delete_w.reject_button.disabled
    assert "needs the &#x27;admin&#x27; role" in delete_w.message.value
    assert ip.user_ns["out"].status == "paused"


def test_roles_from_config_enable_the_admin_widget(ip: Any) -> None:
    run(ip, "%config AgentMagics.roles = ['admin']")
    _, (_, delete_w) = pause(ip)
    assert not delete_w.approve_button.disabled and delete_w.message.value == ""


def test_invalid_json_arguments_are_refused_with_a_clear_message(ip: Any) -> None:
    _, (refund_w, _) = pause(ip)
    refund_w.args_editor.value = '{"order_id": "42",'
    assert "not valid JSON (line 1, column 19" in refund_w.message.value
    assert refund_w.approve_button.disabled
    refund_w.approve_button.click()  # a click that slips through is refused, not applied
    assert refund_w.approval.status == "pending"
    refund_w.args_editor.value = "[1, 2]"
    assert "must be a JSON object" in refund_w.message.value


def test_an_edit_past_the_policy_is_refused_in_the_widget_and_nothing_runs(ip: Any) -> None:
    from agno_nb import ToolCall

    def tiered(call: ToolCall) -> str:
        return "admin" if call.args["amount"] > 500 else "required"

    ip.user_ns["support"].approvals = {"refund": tiered}
    _, (refund_w, _) = pause(ip)
    assert refund_w.approval.required_role == "required"
    refund_w.args_editor.value = '{"order_id": "42", "amount": 100000.0}'
    refund_w.approve_button.click()
    assert "edited arguments need &#x27;admin&#x27;" in refund_w.message.value
    assert refund_w.approval.status == "pending"
    row = ip.user_ns["support"].desk.get(refund_w.approval_id)
    assert row.status == "pending" and row.edited_args is None


def test_edited_approval_and_a_decision_elsewhere_continue_the_run_in_the_output(
    ip: Any,
) -> None:
    _, (refund_w, delete_w) = pause(ip)
    refund_w.args_editor.value = '{"order_id": "42", "amount": 25.0}'
    refund_w.approve_button.click()
    assert "approved with edited arguments by" in refund_w.message.value
    assert refund_w.paused.state == "waiting"  # delete_customer is still undecided
    ip.user_ns["support"].desk.reject(
        delete_w.approval_id, Principal("alice", ["admin"]), reason="never by chat"
    )
    refund_w.paused.refresh()  # what the poll task does every second in a kernel
    assert "rejected by <b>alice</b>: never by chat" in delete_w.message.value
    final = ip.user_ns["out"]
    assert final.status == "completed" and refund_w.paused.state == "done"
    assert "refunded 25.00" in final.content and "rejected by alice: never by chat" in final.content
    assert '✓ refund(order_id="42", amount=25.0)' in output_text(refund_w)
    assert footer_text(refund_w).startswith("— completed")


def test_a_poll_that_read_before_a_click_does_not_undo_the_decision(ip: Any) -> None:
    _, (refund_w, _) = pause(ip)
    paused = refund_w.paused
    stale = paused._read()  # the poll thread read the rows ...
    refund_w.approve_button.click()  # ... then the click decided ...
    paused._apply_rows(stale)  # ... then the poll applied what it had read
    assert refund_w.approval.status == "approved"
    assert refund_w.approve_button.disabled and refund_w.reject_button.disabled


def test_a_rejection_reason_goes_back_to_the_model(ip: Any) -> None:
    _, (refund_w,) = pause(ip, "%%agent support -o out\nRefund order 43, it was late.\n")
    refund_w.reason.value = "late orders get a voucher"
    refund_w.reject_button.click()
    assert "rejected by <b>" in refund_w.message.value
    content = ip.user_ns["out"].content
    assert "not approved (rejected by" in content and "late orders get a voucher" in content
    assert "⊘ refund" in output_text(refund_w)


def test_a_run_continued_by_another_process_first_is_reported_not_failed(ip: Any) -> None:
    _, (refund_w,) = pause(ip, "%%agent support\nRefund order 44 please.\n")
    agent, paused = ip.user_ns["support"], refund_w.paused
    agent.desk.approve(refund_w.approval_id, Principal("bob"))
    assert agent.continue_run(paused.run_id).status == "completed"  # the winner
    paused.refresh()
    assert paused.state == "elsewhere"
    assert "continued by another process" in output_text(refund_w)
    assert "approved by <b>bob</b>" in refund_w.message.value


async def test_a_kernel_that_lost_the_race_shows_the_winners_answer(ip: Any) -> None:
    magics_of(ip).poll_interval = 0.05
    _, (refund_w,) = pause(ip, "%%agent support\nRefund order 47 please.\n")
    agent = ip.user_ns["support"]
    agent.desk.approve(refund_w.approval_id, Principal("bob"))
    winner = agent.continue_run(refund_w.paused.run_id)  # another process, say
    final = await asyncio.wait_for(refund_w.wait(), 30)
    assert refund_w.paused.state == "elsewhere"
    assert final is not None and final.run_id == winner.run_id and final.status == "completed"
    text = output_text(refund_w)
    assert "continued by another process" in text and "refunded 30.00 on order 47" in text
    assert "(the run is completed; continued elsewhere)" in text


def test_errors_in_callbacks_are_shown_in_the_output(ip: Any) -> None:
    _, (refund_w,) = pause(ip, "%%agent support\nRefund order 45 please.\n")
    paused = refund_w.paused

    def broken(_: Any) -> None:
        raise RuntimeError("a listener broke")

    paused.listeners.append(broken)
    refund_w.approve_button.click()
    text = output_text(refund_w)
    assert "RuntimeError: a listener broke" in text
    assert footer_text(refund_w).startswith("— completed")  # the run still continued
    refund_w.approve_button.click()  # decided already: said in the widget
    assert "ApprovalDecidedError" in refund_w.message.value


async def test_decisions_from_another_process_are_polled_on_the_running_loop(
    ip: Any, db_path: str
) -> None:
    magics_of(ip).poll_interval = 0.1
    _, (refund_w, delete_w) = pause(ip)
    paused = refund_w.paused
    assert paused._poller is not None  # a task on this (the kernel's) loop
    script = (
        "import sys\nfrom agno_nb import ApprovalDesk, Principal\n"
        "from agno_nb.storage import open_store\n"
        "store = open_store(sys.argv[1])\ndesk = ApprovalDesk(store)\n"
        "for a in desk.list(status='pending', run_id=sys.argv[2]):\n"
        "    desk.approve(a, Principal('alice', ['admin']))\nstore.close()\n"
    )
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script, db_path, paused.run_id],
        check=True,
        cwd=ROOT,
    )
    final = await asyncio.wait_for(refund_w.wait(), 30)
    assert final is not None and final.status == "completed"
    assert "deleted customer 7" in final.content
    assert "approved by <b>alice</b>" in delete_w.message.value
    assert footer_text(refund_w).startswith("— completed")


def test_text_mode_says_how_to_decide_and_continues_in_place(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import agno_nb.jupyter

    magics_of(ip).display_mode = "text"
    run(ip, "%agent support -o out Refund order 46 please.")
    assert "‖ refund needs approval, approval apr_" in capsys.readouterr().out
    ip.run_line_magic("agent_approvals", "")
    assert 'tool: refund(order_id="46", amount=30.0)' in capsys.readouterr().out
    paused = agno_nb.jupyter.last_paused()
    assert paused is not None
    paused.approve(0)
    printed = capsys.readouterr().out
    assert "✓ refund(" in printed and "— completed" in printed
    assert ip.user_ns["out"].status == "completed"


def test_a_failed_run_shows_the_error_and_raises_one_line(ip: Any, fake: FakeAnthropic) -> None:
    from IPython.utils.capture import capture_output

    from agno_nb.jupyter.magics import AgentRunFailed

    fake.reset([Turn.error(400, "bad request here")])
    with capture_output() as captured, pytest.raises(AgentRunFailed) as failed:
        run(ip, "%agent support Hello")
    assert "bad request here" in captured.outputs[-2].data["text/html"]
    assert "failed" in captured.outputs[-1].data["text/plain"]
    (line,) = failed.value._render_traceback_()
    assert "ModelAPIError" in line


def test_the_inbox_lists_pending_approvals_and_continues_their_runs(ip: Any) -> None:
    agent = ip.user_ns["support"]
    paused_run = agent.run("Refund order 50 please.")  # not through a magic
    assert paused_run.status == "paused"
    inbox = ip.run_line_magic("agent_approvals", "")
    (widget,) = inbox.approval_widgets
    assert "1 pending approval<" in inbox.title.value
    widget.approve_button.click()
    assert widget.paused.state == "done"
    outputs = "\n".join(o["data"].get("text/plain", "") for o in inbox.output.outputs)
    assert "refunded 30.00 on order 50" in outputs
    inbox.refresh_button.click()
    assert inbox.approval_widgets == [] and "0 pending approvals" in inbox.title.value


def test_sessions_runs_sql_and_traces_come_back_as_dataframes(ip: Any) -> None:
    magics_of(ip).display_mode = "text"
    run(ip, "%agent support Where is order 42?")
    run(ip, "%agent support --new-session Refund order 42 please.")
    sessions = ip.run_line_magic("agent_sessions", "support -o s")
    assert len(sessions) == 2 and sessions["current"].tolist().count(True) == 1
    assert ip.user_ns.pop("s") is sessions
    runs = ip.run_line_magic("agent_runs", "support --status paused")
    assert runs["status"].tolist() == ["paused"] and runs["tool_calls"].tolist() == [2]
    counts = ip.run_cell_magic("agent_sql", "", "SELECT status, count(*) AS n FROM runs GROUP BY 1")
    assert dict(zip(counts["status"], counts["n"], strict=True)) == {"completed": 1, "paused": 1}
    run_id = runs["run_id"][0]
    spans = ip.run_line_magic("agent_traces", f"--run {run_id} --spans")
    assert len(spans) >= 3 and set(spans["run_id"]) == {run_id}
    traces = ip.run_line_magic("agent_traces", "support")
    assert set(traces["run_id"]) == set(ip.run_line_magic("agent_runs", "")["run_id"])
    figure = ip.run_line_magic("agent_traces", f"--run {run_id}")
    assert figure._repr_png_()[:4] == b"\x89PNG"


def test_tool_rows_render_mcp_images_inline_and_errors() -> None:
    from agno_nb.jupyter._render import tool_html, tool_text
    from agno_nb.run import ToolExecution

    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
    }
    result = {"type": "mcp_result", "content": [{"type": "text", "text": "a chart"}, image],
              "structured_content": {"points": 3}}  # fmt: skip
    tool = ToolExecution(id="t1", name="chart", args={"n": 3}, status="completed", result=result,
                         duration_ms=12.0)  # fmt: skip
    html = tool_html(tool)
    assert '<img src="data:image/png;base64,AAA"' in html and "a chart" in html
    assert "&quot;points&quot;: 3" in html and "12 ms" in html and html.startswith("<details")
    assert tool_text(tool).endswith("→ a chart [image/png]")
    failed = ToolExecution(id="t2", name="x", args={}, status="error", error="boom <b>")
    assert "boom &lt;b&gt;" in tool_html(failed) and "✗" in tool_html(failed)
