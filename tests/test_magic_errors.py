"""What the magics say when something is wrong, on a real IPython shell: one line and a
hint, never a traceback through agno-nb (unless asked for with ``%xmode verbose`` or
``AGNO_NB_DEBUG=1``); ``%agent`` alone lists the agents; ``%agent?`` reads as plain text;
a magic that only reads a store never creates one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agno_nb.testing import FakeAnthropic
from tests.jupyter_support import magics_of, support_agent

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def ip(fake: FakeAnthropic, db_path: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "agno_nb.jupyter")
    magics_of(shell).display_mode = "text"
    monkeypatch.delenv("AGNO_NB_DEBUG", raising=False)
    shell.user_ns["support"] = support_agent(fake.url or "", db_path)
    yield shell
    shell.run_line_magic("xmode", "context")
    magics_of(shell).display_mode = "auto"
    for name in ("support", "_", "__", "_7", "Out_agent", "helper"):
        shell.user_ns.pop(name, None)


def shown(ip: Any, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    """The exception a cell raised and everything the shell printed, without colours."""
    capsys.readouterr()
    result = ip.run_cell(cell)
    captured = capsys.readouterr()
    return result.error_in_exec, ANSI.sub("", captured.out + captured.err)


def test_an_error_inside_a_magic_shows_one_line_and_a_hint(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from agno_nb.exceptions import ConfigError

    error, text = shown(ip, "%agent support -m antropic:claude-x Hello", capsys)
    assert isinstance(error, ConfigError)  # Run All stops here, with the real type
    lines = text.strip().splitlines()
    assert len(lines) == 2, text
    assert lines[0].startswith("ConfigError: unknown model provider 'antropic'")
    assert lines[1].startswith("hint: ") and "AGNO_NB_DEBUG=1" in lines[1]
    assert "Traceback" not in text and "agno_nb/" not in text


def test_an_unexpected_error_is_one_line_too_and_says_how_to_see_more(
    ip: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agno_nb.jupyter.store_magics import StoreMagics

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(StoreMagics, "stores", broken)
    error, text = shown(ip, "%agent_sessions", capsys)
    assert isinstance(error, RuntimeError)
    assert text.strip().splitlines() == [
        "RuntimeError: boom",
        "hint: this looks like a bug in agno-nb; %xmode verbose or AGNO_NB_DEBUG=1 shows "
        "the traceback",
    ]


def test_xmode_verbose_and_agno_nb_debug_show_the_whole_traceback(
    ip: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGNO_NB_DEBUG", "1")
    _, text = shown(ip, "%agent support -m antropic:claude-x Hello", capsys)
    assert "Traceback" in text and "parse_model_string" in text
    monkeypatch.delenv("AGNO_NB_DEBUG")
    ip.run_line_magic("xmode", "verbose")
    _, text = shown(ip, "%agent support -m antropic:claude-x Hello", capsys)
    assert "Traceback" in text and "parse_model_string" in text


def test_agent_alone_lists_the_agents_of_the_namespace(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.user_ns["helper"] = support_agent("http://127.0.0.1:9", ":memory:")
    ip.user_ns["_"] = ip.user_ns["__"] = ip.user_ns["_7"] = ip.user_ns["support"]  # Out cache
    error, text = shown(ip, "%agent", capsys)
    assert error is None, text
    assert "helper" in text and "support" in text and "claude-haiku-4-5" in text
    assert "lookup_order, refund (required), delete_customer (admin)" in text
    assert not re.search(r"^\s*_", text, re.M)  # no output cache names
    ip.user_ns.pop("helper")
    ip.user_ns.pop("support")
    error, text = shown(ip, "%agent", capsys)
    assert error is None and "No agents in this notebook yet" in text


def test_the_unknown_agent_message_lists_no_output_cache_names(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.error import UsageError

    ip.user_ns["_"] = ip.user_ns["__"] = ip.user_ns["_7"] = ip.user_ns["support"]
    error, text = shown(ip, "%agent suport hi", capsys)
    assert isinstance(error, UsageError)
    assert "Did you mean 'support'? Agents in the namespace: support" in text
    assert "'_" not in text and " _7" not in text and ", _" not in text


def test_help_of_every_magic_reads_as_plain_text(ip: Any) -> None:
    magics = ip.magics_manager.magics
    names = ["agent", "agent_sessions", "agent_runs", "agent_traces", "agent_approvals",
             "agent_export"]  # fmt: skip
    docs = {f"%{n}": magics["line"][n].__doc__ for n in names}
    docs |= {f"%%{n}": magics["cell"][n].__doc__ for n in ("agent_def", "agent_sql")}
    for name, doc in docs.items():
        assert doc, name
        for markup in ("``", ":mod:", ":func:", ":class:", "::\n"):
            assert markup not in doc, (name, markup)
        assert doc.lstrip().startswith(f"Usage:\n  {name}"), (name, doc[:80])
        assert "Example" in doc, name
    agent = docs["%agent"]
    assert "\n  %agent NAME PROMPT" in agent and "%agent alone lists" in agent
    assert "AGNO_NB_DEBUG=1" in agent


def test_a_store_magic_does_not_create_a_database_it_was_pointed_at(
    ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.error import UsageError

    monkeypatch.chdir(tmp_path)
    ip.user_ns.pop("support")
    for cell in ("%agent_runs --db typo.duckdb", "%%agent_sql --db typo.duckdb\nSELECT 1",
                 "%agent_sessions"):  # fmt: skip
        error, text = shown(ip, cell, capsys)
        assert isinstance(error, UsageError), (cell, text)
        assert "no agno-nb database at" in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == []
