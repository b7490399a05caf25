"""Progress in the cell: a "starting" line before anything comes, seconds counted on a
running tool and on a long model wait, "first token" timed from the model request; and the
background warm-up that makes a fresh kernel's first run fast (in a real kernel too)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agno_nb import Agent, Claude, tool
from agno_nb.testing import FakeAnthropic, Turn
from tests.jupyter_support import magics_of

ROOT = Path(__file__).resolve().parents[1]


@tool
def slow(seconds: float) -> str:
    """Take a while."""
    time.sleep(seconds)
    return "done waiting"


@pytest.fixture
def ip(fake: FakeAnthropic, db_path: str) -> Iterator[Any]:
    """A shell with an agent whose tool takes a while, showing rich output."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "agno_nb.jupyter")
    model = Claude("claude-haiku-4-5", base_url=fake.url, api_key="sk-test", max_retries=0)
    shell.user_ns["slowpoke"] = Agent("slowpoke", model=model, tools=[slow], db=db_path)
    magics_of(shell).display_mode = "rich"
    yield shell
    magics_of(shell).display_mode = "auto"
    shell.user_ns.pop("slowpoke", None)


def run_captured(ip: Any, cell: str) -> list[Any]:
    """The cell's display messages (new outputs and updates), in order."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = ip.run_cell(cell)
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return list(captured.outputs)


def plain(outputs: list[Any]) -> list[str]:
    return [o.data.get("text/plain", "") for o in outputs]


def final_state(outputs: list[Any]) -> list[str]:
    """The text each output ends with, in display order (updates applied)."""
    shown: dict[str, str] = {}
    for i, o in enumerate(outputs):
        key = (o.transient or {}).get("display_id") or f"#{i}"
        shown[key] = o.data.get("text/plain", "")
    return list(shown.values())


def test_first_token_is_timed_from_the_model_request_not_the_run_start(
    ip: Any, fake: FakeAnthropic
) -> None:
    fake.reset([Turn.tool_call("slow", {"seconds": 0.8}), Turn.text(["Done ", "now."])])
    outputs = run_captured(ip, "%agent slowpoke Go")
    footer = outputs[-1].data["text/html"]
    first_token = int(re.search(r"first token (\d+) ms", footer).group(1))  # type: ignore[union-attr]
    assert first_token < 500, footer  # the tool's 0.8 s ran before the answering request
    seconds = float(re.search(r"([\d.]+) s", footer).group(1))  # type: ignore[union-attr]
    assert seconds >= 0.8


def test_a_running_tool_and_a_long_model_wait_count_the_seconds(
    ip: Any, fake: FakeAnthropic
) -> None:
    fake.reset([Turn.tool_call("slow", {"seconds": 1.2}), Turn.text(["Done."], delay=1.3)])
    outputs = run_captured(ip, "%agent slowpoke Go")
    texts = plain(outputs)
    counted = [t for t in texts if "slow(seconds=1.2) running · " in t]
    assert any("running · 0.5 s" in t for t in counted), texts
    assert any("running · 1.0 s" in t for t in counted), texts
    waits = [t for t in texts if t.startswith("⋯ waiting for claude-haiku-4-5 · ")]
    assert waits and waits[0].endswith("· 1.0 s"), texts
    assert any(t.endswith("· 1.0 s") for t in waits)
    # the wait line became the answer: nothing of the progress stays
    final = final_state(outputs)
    assert "Done." in final and not any("⋯" in t for t in final), final
    assert final[0].startswith("  ✓ slow(seconds=1.2)")


def test_a_starting_line_shows_until_the_warm_up_lets_the_run_start(
    ip: Any, fake: FakeAnthropic
) -> None:
    from agno_nb.jupyter import _warm

    fake.reset([Turn.text(["Hello ", "there."])])
    _warm._submit("test", lambda: time.sleep(0.7))  # a fresh kernel's imports, say
    outputs = run_captured(ip, "%agent slowpoke Hi")
    texts = plain(outputs)
    assert texts[:2] == ["⋯ starting", "⋯ starting · 0.5 s"], texts
    assert final_state(outputs)[0] == "Hello there."  # the line became the answer


def test_text_mode_prints_no_progress_lines(
    ip: Any, fake: FakeAnthropic, capsys: pytest.CaptureFixture[str]
) -> None:
    magics_of(ip).display_mode = "text"
    fake.reset([Turn.tool_call("slow", {"seconds": 0.7}), Turn.text(["Done."], delay=1.1)])
    ip.run_cell("%agent slowpoke Go")
    printed = capsys.readouterr().out
    assert "⋯ waiting" not in printed and " · 0.5 s" not in printed
    assert "✓ slow(seconds=0.7)" in printed and "Done." in printed


def test_loading_the_extension_never_waits_for_the_warm_up() -> None:
    code = """
import sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
from agno_nb.jupyter import _warm
_warm.MODULES = ("no_such_module_here", *_warm.MODULES)  # a failure: kept, never raised
start = time.perf_counter()
ip.run_line_magic("load_ext", "agno_nb.jupyter")
print(round((time.perf_counter() - start) * 1000))
assert _warm.wait(60)
print(_warm.errors, "anthropic" in sys.modules, "duckdb" in sys.modules)
print(sorted(_warm.seconds))
"""
    env = {**os.environ, "AGNO_NB_WARM_UP": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    ms, found, jobs = done.stdout.splitlines()[-3:]
    assert int(ms) < 150
    assert "['import no_such_module_here: ModuleNotFoundError(" in found
    assert found.endswith("] True True")
    assert jobs == "['imports', 'writes']"


def test_after_a_cell_new_agents_get_a_client_and_their_existing_store_opens(
    fake: FakeAnthropic, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from agno_nb._portal import _portal
    from agno_nb.jupyter import _warm
    from agno_nb.models.anthropic import _clients
    from agno_nb.storage import open_store

    existing = str(tmp_path / "existing.duckdb")
    store = open_store(existing)
    store.call(lambda con: None)  # the file exists now
    store.close()
    url = f"{fake.url}/warm"  # a client of its own
    model = Claude("claude-haiku-4-5", base_url=url, api_key="sk-test")
    new = Agent("new", model=model, tools=[slow], db=str(tmp_path / "new.duckdb"))
    old = Agent("old", model="anthropic:claude-haiku-4-5", db=existing)
    hook = _warm._after_cell(SimpleNamespace(user_ns={"new": new, "old": old, "x": 1}))
    hook()
    assert _warm.wait(30) and not _warm.errors
    assert any(key[1] == url for key in _clients.get(_portal(), {}))  # its SDK client
    assert new._store is None and not (tmp_path / "new.duckdb").exists()  # no new file
    assert old._store and not old._store.closed  # an existing one is opened
    assert not _warm._fresh(new) and not _warm._fresh(old)
    done = dict(_warm.seconds)
    hook()  # nothing new: no job
    assert _warm.wait(5) and _warm.seconds == done


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_fresh_kernel_shows_starting_then_counts_while_the_cell_runs(
    fake: FakeAnthropic, db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real kernel (the extension preloaded, as the kernelspec does): Run All at once
    shows "starting" while the background imports finish; a tool's seconds reach the
    front end while the cell is still running."""
    from jupyter_client.manager import start_new_kernel

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    fake.reset([Turn.text(["Ready."]), Turn.tool_call("slow", {"seconds": 1.6}),
                Turn.text(["Done."])])  # fmt: skip
    setup = f"""
from agno_nb import Agent, Claude
from tests.test_notebook_progress import slow
model = Claude("claude-haiku-4-5", base_url={fake.url!r}, api_key="sk-test", max_retries=0)
slowpoke = Agent("slowpoke", model=model, tools=[slow], db={db_path!r})
"""
    km, kc = start_new_kernel(extra_arguments=["--IPKernelApp.extensions=agno_nb.jupyter"])
    try:
        seen: list[tuple[float, str, str]] = []

        def hook(msg: dict[str, Any]) -> None:
            kind = msg["header"]["msg_type"]
            if kind in ("display_data", "update_display_data"):
                seen.append((time.monotonic(), kind, msg["content"]["data"]["text/plain"]))
            assert kind != "error", msg["content"]

        kc.execute_interactive(setup + "%agent slowpoke Hi", output_hook=hook, timeout=60)
        texts = [t for _, _, t in seen]
        assert texts[:2] == ["⋯ starting", "⋯ starting · 0.5 s"], texts
        assert "Ready." in texts
        seen.clear()
        started = time.monotonic()
        reply = kc.execute_interactive("%agent slowpoke Go", output_hook=hook, timeout=60)
        ended = time.monotonic()
        assert reply["content"]["status"] == "ok"
        counts = [(t, text) for t, _, text in seen if "running · " in text]
        assert [text[-5:] for _, text in counts][:3] == ["0.5 s", "1.0 s", "1.5 s"], seen
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(counts)]
        assert all(0.3 < g < 0.8 for g in gaps), gaps  # sent as they happen, not at the end
        assert counts[0][0] - started >= 0.4 and counts[-1][0] < ended - 0.05
        stats: list[str] = []
        kc.execute_interactive(
            "from agno_nb.jupyter import _warm; print(_warm.errors, sorted(_warm.seconds))",
            output_hook=lambda m: stats.append(m["content"].get("text", "")), timeout=30,
        )  # fmt: skip
        assert "".join(stats).strip() == "[] ['agents', 'imports', 'writes']"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
