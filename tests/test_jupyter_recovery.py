"""A paused or interrupted run, and what the cell says about it, on a real IPython shell
against FakeAnthropic: the continuation's footer replaces the paused one; Ctrl-C during a
tool ends the output ``cancelled`` with one line and no traceback; a paused run carries a
text fallback naming ``%agent_resume RUN_ID``, which shows it again with live widgets (as
after a kernel restart) and continues it there; ``%agent_approvals`` says how to resume."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from agno_nb import tool
from agno_nb.testing import FakeAnthropic, Turn
from tests.jupyter_support import magics_of
from tests.test_jupyter_approvals import WIDGET, ip, pause  # noqa: F401 - the ip fixture
from tests.test_jupyter_magics import run, shell  # noqa: F401 - the shell fixture

REFUND = "%%agent support -o out\nRefund order 48 please.\n"


def final_outputs(captured: Any) -> list[dict[str, Any]]:
    """A cell's outputs as a front end ends up showing them: updates applied in place."""
    shown: list[dict[str, Any]] = []
    where: dict[str, int] = {}
    for output in captured.outputs:
        display_id = (output.transient or {}).get("display_id")
        if output.update and display_id in where:
            shown[where[display_id]] = output.data
        else:
            if display_id:
                where[display_id] = len(shown)
            shown.append(output.data)
    return shown


@pytest.fixture
def fresh_kernel() -> Iterator[None]:
    """Forget this kernel's paused runs, as a restarted kernel has none."""
    from agno_nb.jupyter.paused import PausedRun

    yield
    PausedRun.registry.clear()
    PausedRun.last = None


def test_the_continuation_replaces_the_paused_footer(ip: Any) -> None:  # noqa: F811
    import agno_nb.jupyter

    with capture_output() as captured:
        run(ip, REFUND)
        (card,) = agno_nb.jupyter.last_approval_widgets()
        card.approve_button.click()
    shown = final_outputs(captured)
    footers = [d["text/plain"] for d in shown if d.get("text/plain", "").startswith("— ")]
    assert len(footers) == 1 and footers[0].startswith("— completed · claude-haiku-4-5 · ")
    assert not any("paused: " in d.get("text/plain", "") for d in shown)
    (widget,) = [d for d in shown if WIDGET in d]  # its text form follows the run too
    assert (
        widget["text/plain"].startswith("Run run_")
        and "continued here, completed" in (widget["text/plain"])
    )


def test_ctrl_c_during_a_tool_ends_the_output_cancelled_without_a_traceback(
    ip: Any,  # noqa: F811
    fake: FakeAnthropic,
) -> None:
    from agno_nb.jupyter.magics import AgentRunCancelled

    started, release = threading.Event(), threading.Event()

    @tool
    def slow_lookup(order_id: str) -> str:
        """Look an order up, slowly."""
        started.set()
        release.wait(30)
        return f"order {order_id}"

    def interrupt() -> None:
        if started.wait(30):
            time.sleep(0.2)  # as a person would: the row shows "running" first
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    fake.reset([Turn.tool_call("slow_lookup", {"order_id": "42"}), Turn.text("Done.")])
    agent = ip.user_ns["support"]
    agent.tools.append(slow_lookup)
    threading.Thread(target=interrupt, daemon=True).start()
    try:
        with capture_output() as captured:
            result = ip.run_cell("%agent support Look up order 42, slowly.")
    finally:
        release.set()
    error = result.error_in_exec
    assert isinstance(error, AgentRunCancelled) and isinstance(error, KeyboardInterrupt)
    (line,) = error._render_traceback_()
    assert "KeyboardInterrupt" in line and "was cancelled (stored as cancelled)" in line
    assert "agno_nb" not in captured.stdout and "Traceback" not in captured.stdout
    shown = [d.get("text/plain", "") for d in final_outputs(captured)]
    row = next(t for t in shown if "slow_lookup(" in t)
    assert '⊘ slow_lookup(order_id="42") cancelled' in row and "running" not in row
    assert shown[-1].startswith("— cancelled · claude-haiku-4-5 · ")
    run_id = str(error).split()[1]
    assert agent.get_run(run_id).status == "cancelled"


def test_a_paused_widget_carries_a_text_fallback_naming_the_resume_command(
    ip: Any,  # noqa: F811
) -> None:
    captured, (card,) = pause(ip, REFUND)
    run_id = card.paused.run_id
    (data,) = [o.data for o in captured.outputs if WIDGET in o.data]
    for mime in ("text/plain", "text/markdown"):
        assert f"Paused run {'`' * (mime == 'text/markdown')}{run_id}" in data[mime]
        assert f"%agent_resume {run_id}" in data[mime]
        assert "refund(order_id=" in data[mime] and "needs approval" in data[mime]
    footer = captured.outputs[-1].data["text/plain"]
    assert footer.startswith("— paused: 1 approval to decide") and f"%agent_resume {run_id}" in (
        footer
    )


def test_agent_resume_shows_a_paused_run_again_and_continues_it_there(
    ip: Any,  # noqa: F811
    fresh_kernel: None,
) -> None:
    from agno_nb.jupyter.paused import PausedRun

    _, (old,) = pause(ip, REFUND)
    run_id = old.paused.run_id
    PausedRun.registry.clear()  # the kernel restarted: nothing of the old cell is left
    with capture_output() as captured:
        run(ip, f"%agent_resume {run_id} -o resumed")
        (card,) = __import__("agno_nb.jupyter").jupyter.last_approval_widgets()
        assert card is not old and card.paused.run_id == run_id
        assert ip.user_ns["resumed"].status == "paused"
        card.approve_button.click()
    shown = final_outputs(captured)
    first = shown[0]["text/plain"]
    assert first.startswith(f"Resuming run {run_id} of agent support (paused just now): Refund")
    assert any("‖ refund(" in d.get("text/plain", "") for d in shown)
    assert shown[-1]["text/plain"].startswith("— completed · claude-haiku-4-5")
    assert ip.user_ns["resumed"].status == "completed"
    assert "refunded 30.00 on order 48" in ip.user_ns["resumed"].content


def test_agent_resume_alone_takes_the_last_paused_run_and_moves_it_from_its_cell(
    ip: Any,  # noqa: F811
    fresh_kernel: None,
) -> None:
    _, (first,) = pause(ip, "%%agent support\nRefund order 60 please.\n")
    _, (second,) = pause(ip, "%%agent support\nRefund order 61 please.\n")
    with capture_output() as captured:
        run(ip, "%agent_resume")
    new = [o.data["text/plain"] for o in captured.outputs if not o.update]  # this cell's
    assert new[0].startswith(f"Resuming run {second.paused.run_id} ")
    # the cell that showed it paused says it moved: cards and footer
    assert second.paused.state == "moved" and second.approve_button.disabled
    assert second.message_text.startswith("moved: this run is decided in another cell")
    footer = second.paused.view.footer_into.footer_block.text
    assert footer.startswith("— paused · moved to a new cell (%agent_resume)")
    assert first.paused.state == "waiting"


def test_agent_resume_says_what_it_cannot_resume(ip: Any, fresh_kernel: None) -> None:  # noqa: F811
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=r"no run 'run_nope' .*agents defined here: support"):
        run(ip, "%agent_resume run_nope")
    with pytest.raises(UsageError, match="no paused run of the agents defined here"):
        run(ip, "%agent_resume")
    magics_of(ip).display_mode = "text"
    run(ip, "%agent support -o out Where is order 42?")
    done = ip.user_ns["out"].run_id
    with capture_output() as captured:
        run(ip, f"%agent_resume {done}")
    assert f"Run {done} of agent support is completed: nothing to decide." in captured.stdout


def test_the_inbox_names_each_runs_agent_age_and_resume_command(
    ip: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent = ip.user_ns["support"]
    paused = agent.run("Refund order 70 please.")  # elsewhere: no cell shows it
    inbox = ip.run_line_magic("agent_approvals", "")
    (line, card) = inbox.body.children
    text = line.value
    assert f"run <code>{paused.run_id}</code> · agent <b>support</b> · paused just now" in text
    assert f"<code>%agent_resume {paused.run_id}</code> resumes it in a new cell" in text
    assert card is inbox.approval_widgets[0]
    magics_of(ip).display_mode = "text"
    ip.run_line_magic("agent_approvals", "")
    printed = capsys.readouterr().out
    assert f"decide: %agent_resume {paused.run_id}" in printed and "(just now)" in printed


def test_an_inbox_decision_for_an_agent_not_defined_here_names_the_run(
    ip: Any,  # noqa: F811
) -> None:
    agent = ip.user_ns.pop("support")
    paused = agent.run("Refund order 71 please.")
    inbox = ip.run_line_magic("agent_approvals", f"--db {agent.db}")
    (card,) = inbox.approval_widgets
    card.approve_button.click()
    assert card.paused.state == "no-agent"
    said = "\n".join(o["data"]["text/plain"] for o in inbox.output.outputs)
    assert f'agent.continue_run("{paused.run_id}")' in said
    assert f"%agent_resume {paused.run_id}" in said


SLOW_AGENT = '''
import threading
from agno_nb import Agent, Claude, tool
from agno_nb.testing import FakeAnthropic, Turn

@tool
def slow_lookup(order_id: str) -> str:
    """Look an order up, slowly."""
    threading.Event().wait(20)
    return order_id

fake = FakeAnthropic([Turn.tool_call("slow_lookup", {"order_id": "42"}), Turn.text("Done.")])
model = Claude("claude-haiku-4-5", base_url=fake.start(), api_key="x", max_retries=0)
agent = Agent("support", model=model, tools=[slow_lookup], db="stop.duckdb")
'''


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_stop_button_in_a_real_kernel_ends_the_cell_cancelled_in_one_line(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from jupyter_client.manager import start_new_kernel

    from agno_nb.cli import KERNEL_NAME, install_kernel

    install_kernel(prefix=str(tmp_path / "prefix"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "prefix" / "share" / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    monkeypatch.chdir(tmp_path)
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME)
    try:
        assert kc.execute_interactive(SLOW_AGENT, timeout=60)["content"]["status"] == "ok"
        cell = kc.execute("%agent agent Look up order 42, slowly.")
        shown: dict[str, str] = {}  # display id -> its text, updates applied
        errors, interrupted = [], False
        while True:
            msg = kc.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") != cell:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("display_data", "update_display_data"):
                key = (content.get("transient") or {}).get("display_id") or str(len(shown))
                shown[key] = content["data"].get("text/plain", "")
                if "slow_lookup(" in shown[key] and "running" in shown[key] and not interrupted:
                    time.sleep(0.3)
                    km.interrupt_kernel()  # what the stop button does
                    interrupted = True
            elif kind == "error":
                errors.append(content)
            elif kind == "status" and content["execution_state"] == "idle":
                break
        (error,) = errors
        assert (
            error["traceback"] == [f"\x1b[31mKeyboardInterrupt\x1b[0m: {error['evalue']}"]
            and "was cancelled (stored as cancelled)" in error["evalue"]
        )
        texts = list(shown.values())
        row = next(t for t in texts if "slow_lookup(" in t)
        assert '⊘ slow_lookup(order_id="42") cancelled' in row
        assert texts[-1].startswith("— cancelled · claude-haiku-4-5 · ")
        printed: list[str] = []
        kc.execute_interactive(
            "print(agent.store.list_runs()[0].status)",
            timeout=30,
            output_hook=lambda m: printed.append(m["content"].get("text", "")),
        )
        assert "cancelled\n" in printed  # what the store recorded
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
