"""The magics on a real IPython shell: options, interpolation, sessions, completion, help,
``%config``, ``%%agent_def`` and its errors, against FakeAnthropic over loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agno_nb.testing import FakeAnthropic, Turn
from agno_nb.testing.demo import story_handler
from tests.jupyter_support import delete_customer, lookup_order, magics_of, refund, support_agent

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config)
    ip.run_line_magic("load_ext", "agno_nb.jupyter")
    return ip


@pytest.fixture
def ip(shell: Any, fake: FakeAnthropic, db_path: str) -> Iterator[Any]:
    """The shell with the support agent defined, text output, and fresh magics state."""
    fake.reset(handler=story_handler)
    magics = magics_of(shell)
    shell.user_ns.update(
        support=support_agent(fake.url or "", db_path),
        lookup_order=lookup_order,
        refund=refund,
        delete_customer=delete_customer,
    )
    magics.display_mode = "text"
    yield shell
    magics.sessions.clear()
    for name, value in magics.trait_defaults().items():
        if magics.trait_metadata(name, "config"):
            setattr(magics, name, value)
    for name in ("support", "out", "x", "n", "other"):
        shell.user_ns.pop(name, None)


def run(ip: Any, cell: str) -> Any:
    result = ip.run_cell(cell)
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return result


def prompt_sent(fake: FakeAnthropic) -> str:
    first = fake.requests[0].messages[-1]["content"]
    return first if isinstance(first, str) else first[0]["text"]


def test_line_magic_streams_the_answer_and_stores_the_run(
    ip: Any, fake: FakeAnthropic, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, "%agent support -o out Where is order 42?")
    printed = capsys.readouterr().out
    assert "Let me look up order 42 first." in printed
    assert '✓ lookup_order(order_id="42")' in printed
    assert "Order 42 is **delivered**" in printed
    assert "— completed · claude-haiku-4-5 · " in printed and " tokens · $0." in printed
    out = ip.user_ns["out"]
    assert out.status == "completed" and "delivered" in out.content


def test_successive_runs_continue_one_session_until_new_session(ip: Any) -> None:
    run(ip, "%agent support -o out Hello")
    first = ip.user_ns["out"].session_id
    run(ip, "%agent support -o out Hello again")
    assert ip.user_ns["out"].session_id == first
    run(ip, "%agent support --new-session -o out Hi")
    second = ip.user_ns["out"].session_id
    assert second != first
    run(ip, "%agent support -o out Still there?")
    assert ip.user_ns["out"].session_id == second
    run(ip, "%agent support --session s1 -o out Hi")
    assert ip.user_ns["out"].session_id == "s1"
    run(ip, "%agent support -o out And now?")
    assert ip.user_ns["out"].session_id == "s1"


def test_cell_magic_takes_the_prompt_from_the_body_and_the_user_option(
    ip: Any, fake: FakeAnthropic
) -> None:
    run(ip, "%%agent support --session s9 --user ana -o out\nRefund order 7, it's broken.\n")
    out = ip.user_ns["out"]
    assert (out.user_id, out.session_id, out.status) == ("ana", "s9", "paused")
    assert prompt_sent(fake) == "Refund order 7, it's broken."


def test_braces_interpolate_the_namespace_and_double_braces_escape(
    ip: Any, fake: FakeAnthropic
) -> None:
    ip.user_ns.update(x="hi", n=7)
    run(ip, "%agent support Say {x!r} {n:03d} {n * 2} and {{literal}}")
    assert prompt_sent(fake) == "Say 'hi' 007 14 and {literal}"
    fake.reset(handler=story_handler)
    run(ip, "%%agent support\nBody {x} {{y}}\n")
    assert prompt_sent(fake) == "Body hi {y}"


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%agent support Where is {nowhere}?", "cannot interpolate {nowhere}: NameError"),
        ("%agent support a { b", "write {{ and }} for literal braces"),
        ("%agent support", "no prompt"),
        ("%agent suport hello", "'suport' is not defined. Did you mean 'support'?"),
        ("%agent lookup_order hello", "'lookup_order' is not an Agent"),
        ("%agent --bogus support hi", "unrecognized arguments: --bogus"),
        ("%%agent support extra words\nbody", "takes the prompt from the cell body"),
    ],
)
def test_usage_errors_say_what_is_wrong(ip: Any, cell: str, message: str) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=message.replace("{", r"\{").replace("?", r"\?")):
        run(ip, cell)


def test_a_prompt_ending_in_a_question_mark_runs_instead_of_asking_for_help(
    ip: Any, fake: FakeAnthropic
) -> None:
    run(ip, "%agent support Where is it?")
    assert prompt_sent(fake) == "Where is it?"
    assert "pinfo" not in ip.transform_cell("%agent support Where is it?")
    assert "pinfo" in ip.transform_cell("%agent?")


def test_model_override_applies_to_one_run_and_keeps_the_endpoint(
    ip: Any, fake: FakeAnthropic
) -> None:
    run(ip, "%agent support --model anthropic:claude-sonnet-4-6 -o out Hello")
    assert fake.requests[-1].model == "claude-sonnet-4-6"
    assert ip.user_ns["out"].model == "claude-sonnet-4-6"
    run(ip, "%agent support Hello")
    assert fake.requests[-1].model == "claude-haiku-4-5"
    assert ip.user_ns["support"].model.id == "claude-haiku-4-5"


def test_no_stream_and_config_stream_show_the_output_only_at_the_end(
    ip: Any, fake: FakeAnthropic
) -> None:
    from IPython.utils.capture import capture_output

    many = Turn.text([f"w{i} " for i in range(60)], chunk_delay=0.002)
    magics_of(ip).display_mode = "rich"
    for cell in ("%agent support --no-stream Hi", "%config AgentMagics.stream = False"):
        fake.reset([many, many])
        if cell.startswith("%config"):
            run(ip, cell)
            cell = "%agent support Hi"
        with capture_output() as captured:
            run(ip, cell)
        assert not any(o.update for o in captured.outputs)
        assert captured.outputs[0].data["text/markdown"].startswith("w0 w1")


def test_streaming_is_throttled_and_the_first_token_shows_at_once(
    ip: Any, fake: FakeAnthropic
) -> None:
    from IPython.utils.capture import capture_output

    magics_of(ip).display_mode = "rich"
    fake.reset([Turn.text([f"t{i} " for i in range(400)], chunk_delay=0.0005)])
    with capture_output() as captured:
        run(ip, "%agent support Hi")
    texts = [o for o in captured.outputs if "text/markdown" in o.data]
    assert texts[0].data["text/markdown"] == "t0 "  # shown before the second token
    assert texts[-1].data["text/markdown"].endswith("t399 ")
    assert len(texts) < 60  # 400 deltas, far fewer updates
    assert "first token" in captured.outputs[-1].data["text/html"]


def test_config_sets_the_default_user_and_lists_the_options(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, "%config AgentMagics.user = 'cfg-user'")
    run(ip, "%agent support -o out Hello")
    assert ip.user_ns["out"].user_id == "cfg-user"
    assert magics_of(ip).principal().user_id == "cfg-user"
    run(ip, "%config AgentMagics.roles = ['admin']")
    assert magics_of(ip).principal().roles == {"admin"}
    run(ip, "%config AgentMagics.show_tools = False")
    run(ip, "%config AgentMagics.show_footer = False")
    capsys.readouterr()
    run(ip, "%agent support Where is order 42?")
    printed = capsys.readouterr().out
    assert "Order 42 is **delivered**" in printed
    assert "lookup_order(" not in printed and "— completed" not in printed
    run(ip, "%config AgentMagics")
    listed = capsys.readouterr().out
    for option in ("user", "roles", "stream", "show_tools", "show_footer", "poll_interval"):
        assert f"AgentMagics.{option}" in listed


def test_help_shows_the_docstring_and_every_option(ip: Any) -> None:
    doc = ip.find_line_magic("agent").__doc__
    for text in ("%agent NAME PROMPT", "--session", "--user", "--new-session", "--no-stream",
                 "--model", "-o VAR", "{{", "%config AgentMagics"):  # fmt: skip
        assert text in doc
    assert ip.find_cell_magic("agent") is not None


def test_tab_completes_agent_names_where_the_name_goes(ip: Any) -> None:
    from IPython.core.completer import provisionalcompleter

    ip.user_ns["other"] = support_agent("http://127.0.0.1:9", ":memory:")

    def complete(text: str) -> list[str]:
        with provisionalcompleter():
            found = ip.Completer.completions(text, len(text))
            return sorted({c.text for c in found if c.type == "agent"})

    assert complete("%agent su") == ["support"]
    assert complete("%agent ") == ["other", "support"]
    assert complete("%%agent --user ana o") == ["other"]
    assert complete("%agent_runs s") == ["support"]
    assert complete("%agent support wh") == []
    assert complete("%agent --session ") == []


def test_agent_def_creates_the_agent_from_yaml(ip: Any) -> None:
    body = """%%agent_def helpdesk
description: Helps.
model: anthropic:claude-haiku-4-5
instructions: Be brief.
tools: [lookup_order, refund]
approvals: {refund: admin}
db: false
markdown: true
"""
    run(ip, body)
    agent = ip.user_ns.pop("helpdesk")
    assert agent.name == "helpdesk" and agent.model.id == "claude-haiku-4-5"
    assert [t.name for t in agent.tools] == ["lookup_order", "refund"]
    assert agent.approvals == {"refund": "admin"} and agent.markdown and agent.db is False


def test_agent_def_errors_give_the_cell_line_and_key(ip: Any) -> None:
    from IPython.core.error import UsageError

    body = "%%agent_def helpdesk\nmodel: test\ntols: [x]\ntools:\n  - lookup_order\n  - refnd\n"
    with pytest.raises(UsageError, match=r"line 3, tols: unknown key 'tols' \(did you mean"):
        run(ip, body)
    body = "%%agent_def helpdesk\nmodel: test\ntools:\n  - lookup_order\n  - refnd\n"
    with pytest.raises(UsageError, match=r"line 5, tools\[1\]: no tool named 'refnd'.*'refund'"):
        run(ip, body)
    with pytest.raises(UsageError, match=r"line 3, YAML"):
        run(ip, "%%agent_def helpdesk\nmodel: test\ntools: [a\n")


def test_agent_def_round_trips_through_to_yaml(ip: Any) -> None:
    agent = ip.user_ns["support"]
    body = agent.to_yaml()
    run(ip, "%%agent_def copy\n" + body)
    copy = ip.user_ns.pop("copy")
    assert copy.to_yaml() == body
    assert copy.model.base_url == agent.model.base_url
    assert [t.name for t in copy.tools] == [t.name for t in agent.tools]


def test_rich_displays_are_registered_by_name(ip: Any) -> None:
    run(ip, "%agent support -o out Where is order 42?")
    data, _ = ip.display_formatter.format(ip.user_ns["out"])
    assert "Order 42 is **delivered**" in data["text/markdown"]
    assert "<details" in data["text/markdown"] and "lookup_order" in data["text/plain"]
    run(ip, "%agent support -o out Refund order 42 please.")
    (approval,) = ip.user_ns["out"].approvals
    data, _ = ip.display_formatter.format(approval)
    assert "Approval apr_" in data["text/html"] and "refund(" in data["text/html"]
    assert "needs: approval" in data["text/plain"] and "status: pending" in data["text/plain"]
    data, _ = ip.display_formatter.format(ip.user_ns["support"])
    assert "refund (required)" in data["text/html"]
    assert "delete_customer (admin)" in data["text/plain"]


def test_loading_the_extension_is_fast_and_imports_nothing_heavy() -> None:
    code = """
import sys, time
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
c = Config(); c.HistoryManager.hist_file = ":memory:"
ip = InteractiveShell.instance(config=c)
start = time.perf_counter()
ip.run_line_magic("load_ext", "agno_nb.jupyter")
ip.run_line_magic("load_ext", "agno_nb.jupyter")
print(round((time.perf_counter() - start) * 1000))
heavy = ("anthropic", "duckdb", "pandas", "ipywidgets", "pydantic", "yaml", "agno_nb.agent")
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m == "agno_nb.agent"))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    ms, modules = done.stdout.splitlines()[-2:]
    assert modules == "[]"
    assert int(ms) < 150


def test_load_ext_agno_nb_delegates_to_the_jupyter_module() -> None:
    import agno_nb

    if not hasattr(agno_nb, "load_ipython_extension"):
        pytest.skip("agno_nb/__init__.py has no load_ipython_extension yet (lead to add)")
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "agno_nb")
    assert ip.find_line_magic("agent") is not None
