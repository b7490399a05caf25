"""``%agent_runs``, ``%agent_traces`` and ``%agent_sessions``: compact tables in a notebook,
full values in the DataFrame they return, newest first, one mark for a missing value.
(How wide the tables render is measured in the browser: tests/test_browser_progress.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from agno_nb.jupyter._tables import MISSING, plain_line
from agno_nb.testing import FakeAnthropic
from agno_nb.testing.demo import story_handler
from tests.jupyter_support import delete_customer, lookup_order, magics_of, refund, support_agent

RUN_COLUMNS = ["status", "run", "session", "input", "output", "tools", "tokens", "cost",
               "duration", "age"]  # fmt: skip
TRACE_COLUMNS = ["status", "run", "input", "output", "model", "tools", "tokens", "cost",
                 "duration", "age"]  # fmt: skip
LONG = (
    "Show me order 42 and tell me **everything** about it, in a long answer that goes on "
    "well past sixty characters"
)


@pytest.fixture
def ip(fake: FakeAnthropic, db_path: str) -> Iterator[Any]:
    """A shell with the support agent, and three runs in its store: a completed one with a
    long Markdown answer, a paused one (no duration yet) and a plain one, oldest first."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "agno_nb.jupyter")
    fake.reset(handler=story_handler)
    shell.user_ns.update(
        support=support_agent(fake.url or "", db_path),
        lookup_order=lookup_order, refund=refund, delete_customer=delete_customer,
    )  # fmt: skip
    magics_of(shell).display_mode = "text"
    for prompt in (LONG, "Refund order 42 please.", "Hello"):
        shell.run_line_magic("agent", f"support --new-session {prompt}")
    yield shell
    magics_of(shell).sessions.clear()
    shell.user_ns.pop("support", None)


def headers(html: str) -> list[str]:
    return re.findall(r"<th[^>]*>([^<]*)</th>", html)


def test_runs_show_a_compact_table_and_return_every_full_value(ip: Any) -> None:
    runs = ip.run_line_magic("agent_runs", "support -o r")
    assert ip.user_ns.pop("r") is runs
    # the DataFrame: every column, full values, newest first
    assert list(runs["input"]) == ["Hello", "Refund order 42 please.", LONG]
    answer = runs["content"].iloc[2]
    assert answer.startswith("Here is what I found:\n\n") and answer.endswith("help you with?")
    assert {"run_id", "session_id", "model", "cost_usd", "error", "trace_id"} <= set(runs.columns)
    assert runs["run_id"].str.len().min() == 36  # run_ + 32 hex: not cut
    # what the notebook shows
    html = runs._repr_html_()
    assert headers(html) == RUN_COLUMNS
    for run_id in runs["run_id"]:
        assert f'title="{run_id}">{run_id}</span>' in html  # clipped by CSS, whole on copy
    line = plain_line(answer)
    assert "\n" not in line and "**" not in line and line.startswith("Here is what I found: ")
    assert f">{line[:160]}</span>" in html
    assert "everything" in html and "**everything**" not in html
    assert re.search(r">\$0\.\d{4}<", html)  # the cost of claude-haiku-4-5
    assert re.search(r">\d+ s<", html)  # the age
    # the paused run has no duration yet: the mark, never None or NaN
    assert f">{MISSING}</span>" in html
    assert not re.search(r">(None|NaN|NaT|nan)<", html)


def test_wide_shows_every_column_with_the_same_missing_mark(ip: Any) -> None:
    runs = ip.run_line_magic("agent_runs", "support --wide")
    html = runs._repr_html_()
    assert headers(html) == list(runs.columns)
    assert MISSING in html and not re.search(r">(None|NaN|NaT|nan)<", html)
    traces = ip.run_line_magic("agent_traces", "support --wide")
    html = traces._repr_html_()
    assert headers(html) == list(traces.columns)
    assert not re.search(r">(None|NaN|NaT|nan)<", html)
    sessions = ip.run_line_magic("agent_sessions", "support --wide")
    assert headers(sessions._repr_html_()) == list(sessions.columns)


def test_traces_are_newest_first_in_a_compact_table_with_input_and_output(ip: Any) -> None:
    traces = ip.run_line_magic("agent_traces", "support -o t")
    assert ip.user_ns.pop("t") is traces
    assert list(traces["start_time"]) == sorted(traces["start_time"], reverse=True)
    assert list(traces["input"]) == ["Hello", "Refund order 42 please.", LONG]
    assert traces["content"].iloc[2].startswith("Here is what I found:\n\n")
    runs = ip.run_line_magic("agent_runs", "support")
    assert list(traces["run_id"]) == list(runs["run_id"])  # one order in both
    html = traces._repr_html_()
    assert headers(html) == TRACE_COLUMNS
    trace_id = traces["trace_id"].iloc[0]
    assert f"(trace {trace_id})" in html  # the full ids on hover
    assert not re.search(r">(None|NaN|NaT|nan)<", html)
    text = repr(traces)  # a terminal gets the same columns as text
    assert text.splitlines()[1].split() == TRACE_COLUMNS


def test_sessions_and_the_no_pandas_table_show_missing_values_alike(ip: Any) -> None:
    from agno_nb.jupyter.store_magics import Table

    sessions = ip.run_line_magic("agent_sessions", "support")
    html = sessions._repr_html_()
    assert headers(html) == ["session", "agent", "user", "created", "updated", "current"]
    table = Table([{"run_id": "run_1", "status": "paused", "duration_ms": None,
                    "cost_usd": float("nan"), "created_at": None}], "runs", "runs")  # fmt: skip
    html = table._repr_html_()
    assert headers(html) == RUN_COLUMNS and html.count(f">{MISSING}<") >= 3
    assert not re.search(r">(None|NaN|nan)<", html)


@pytest.mark.parametrize(
    ("markdown", "line"),
    [
        ("# Title\n\nSome **bold** and _em_ text.", "Title Some bold and em text."),
        ("- one\n- two [link](http://x) `code`", "one two link code"),
        ("```python\nx = 1\n```\n> quoted", "x = 1 quoted"),
        ("order_id stays, 2 * 3 stays", "order_id stays, 2 * 3 stays"),
        ({"answer": 42}, '{"answer":42}'),
        (None, ""),
    ],
)
def test_plain_line_strips_markdown_to_one_line(markdown: Any, line: str) -> None:
    assert plain_line(markdown) == line


def test_an_agent_column_appears_for_several_agents_and_narrows_the_text() -> None:
    from agno_nb.jupyter.store_magics import Table

    rows = [{"run_id": f"run_{i}", "agent_id": agent, "agent_name": agent, "input": "Hi"}
            for i, agent in enumerate(["support", "sales"])]  # fmt: skip
    html = Table(rows, "runs", "runs")._repr_html_()
    assert headers(html) == [*RUN_COLUMNS[:3], "agent", *RUN_COLUMNS[3:]]
    assert "max-width: 8.5em" in html and "max-width: 11em" not in html
    one = Table(rows[:1], "runs", "runs")._repr_html_()
    assert headers(one) == RUN_COLUMNS and "max-width: 11em" in one
