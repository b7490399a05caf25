"""``agno_nb.analytics``: typed DataFrames, filters, SQL and pictures over a real store,
also while another process writes to it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.figure import Figure

from agno_nb import Agent, FunctionModel, Principal, TestModel, analytics, tool
from agno_nb.exceptions import ConfigError, RunNotFoundError
from agno_nb.messages import Message, ToolCallPart, ToolResultPart
from agno_nb.models.function import AgentInfo
from agno_nb.storage.duckdb import DuckDBStore

ROOT = Path(__file__).resolve().parents[1]


@tool
def lookup(order_id: str) -> str:
    """Look up an order."""
    time.sleep(0.002)
    return f"order {order_id}: shipped"


@tool
def broken(order_id: str) -> str:
    """Always fails."""
    raise RuntimeError("database down")


@tool(approval="required")
def refund(order_id: str) -> str:
    """Refund an order."""
    return f"refunded {order_id}"


def script(messages: list[Message], info: AgentInfo) -> Any:
    """Call the tools named in the prompt once, then answer."""
    last = messages[-1]
    if any(isinstance(p, ToolResultPart) for p in last.parts):
        return "done"
    names = [n for n in ("lookup", "broken", "refund") if n in last.text]
    return [ToolCallPart(f"c{i}", n, {"order_id": "7"}) for i, n in enumerate(names)] or "hi"


@pytest.fixture
def populated(db_path: str) -> dict[str, Any]:
    """Two agents, two users, three sessions; a tool error; an approval decided later."""
    support = Agent("support", model=FunctionModel(script), tools=[lookup, broken, refund],
                    db=db_path)  # fmt: skip
    sales = Agent("sales", model=TestModel(), tools=[lookup], db=db_path)
    ids = {"support": [], "sales": []}
    for i in range(6):
        run = support.run("lookup and broken", user_id="ana", session_id=f"s{i % 2}")
        ids["support"].append(run.run_id)
    for _ in range(3):
        ids["sales"].append(sales.run("hello", user_id="bob", session_id="s-bob").run_id)
    paused = support.run("refund please", user_id="ana", session_id="s0")
    time.sleep(0.05)
    support.desk.approve(paused.approvals[0], Principal("root"))
    continued = support.continue_run(paused.run_id)
    assert continued.status == "completed"
    support.store.flush()  # type: ignore[union-attr]
    return {"db": db_path, "paused": paused.run_id, **ids}


def test_runs_traces_spans_have_typed_columns(populated: dict[str, Any]) -> None:
    db = populated["db"]
    runs = analytics.runs(db=db)
    assert len(runs) == 10 and set(runs["status"]) == {"completed"}
    assert isinstance(runs["created_at"].dtype, pd.DatetimeTZDtype)
    assert str(runs["created_at"].dt.tz) == "UTC"
    assert runs["duration_ms"].dtype == "float64"
    assert runs["input_tokens"].dtype == "int64" and runs["tool_calls"].dtype == "int64"
    assert runs["cost_usd"].dtype == "float64" and runs["cost_usd"].isna().all()  # test models
    traces = analytics.traces(db=db)
    assert len(traces) == 10 and traces["spans"].dtype == "int64"
    support = traces[traces["agent_id"] == "support"]
    assert set(support["tool_errors"]) == {0, 1}
    approved = traces[traces["run_id"] == populated["paused"]].iloc[0]
    assert approved["approvals"] == 1 and approved["approval_wait_ms"] >= 50
    assert approved["active_ms"] == pytest.approx(
        approved["duration_ms"] - approved["approval_wait_ms"]
    )
    spans = analytics.spans(db=db)
    assert set(spans["kind"]) == {"AGENT", "LLM", "TOOL", "CHAIN"}
    assert spans["prompt_tokens"].dtype == "int64"
    assert isinstance(spans["start_time"].dtype, pd.DatetimeTZDtype)
    errors = spans[spans["status"] == "ERROR"]
    assert set(errors["tool_name"]) == {"broken"} and set(errors["error_type"]) == {"RuntimeError"}
    detailed = analytics.spans(db=db, kind="TOOL", tool="broken", attributes=True)
    assert detailed["attributes"].iloc[0]["exception.type"] == "RuntimeError"


def test_filters_by_agent_user_session_run_and_time(populated: dict[str, Any]) -> None:
    db = populated["db"]
    assert set(analytics.runs(db=db, agent="sales")["run_id"]) == set(populated["sales"])
    assert set(analytics.runs(db=db, user="bob")["agent_id"]) == {"sales"}
    assert len(analytics.runs(db=db, session="s1")) == 3
    assert len(analytics.runs(db=db, session=["s1", "s-bob"])) == 6
    one = populated["support"][0]
    assert set(analytics.spans(db=db, run=one)["run_id"]) == {one}
    assert len(analytics.traces(db=db, run=one)) == 1
    assert len(analytics.runs(db=db, since=timedelta(hours=1))) == 10
    assert analytics.runs(db=db, until=datetime.now(UTC) - timedelta(hours=1)).empty
    future = (datetime.now() + timedelta(days=1)).isoformat()  # naive: local time
    assert analytics.spans(db=db, since=future).empty
    assert len(analytics.sessions(db=db, user="ana")) == 2
    approvals = analytics.approvals(db=db, tool="refund")
    assert list(approvals["status"]) == ["approved"] and approvals["wait_ms"].iloc[0] >= 50
    with pytest.raises(ConfigError, match="no run= filter"):
        analytics.sessions(db=db, run=one)
    with pytest.raises(ConfigError, match="not an ISO date"):
        analytics.runs(db=db, since="yesterday")


def test_sessions_latency_usage_and_sql(populated: dict[str, Any]) -> None:
    db = populated["db"]
    sessions = analytics.sessions(db=db)
    assert set(sessions["session_id"]) == {"s0", "s1", "s-bob"}
    assert sessions.set_index("session_id").loc["s0", "runs"] == 4
    tools = analytics.latency("tool", db=db)
    assert set(tools["tool"]) == {"lookup", "broken", "refund"}
    row = tools.set_index("tool").loc["lookup"]
    assert row["count"] == 9 and row["p50_ms"] >= 2 and row["p50_ms"] <= row["p99_ms"]
    agents = analytics.latency("agent", db=db)
    assert set(agents["agent"]) == {"support", "sales"}
    usage = analytics.usage(db=db, freq="1h")
    assert usage["tokens"].sum() == analytics.spans(db=db, kind="LLM")["prompt_tokens"].sum() + (
        analytics.spans(db=db, kind="LLM")["completion_tokens"].sum()
    )
    assert analytics.usage(db=db)["bucket"].nunique() >= 1
    counts = analytics.sql("SELECT kind, count(*) AS n FROM spans GROUP BY kind ORDER BY kind",
                           db=db)  # fmt: skip
    assert list(counts["kind"]) == ["AGENT", "CHAIN", "LLM", "TOOL"]
    store = DuckDBStore(db)
    try:  # a Store works as db= too
        assert len(analytics.runs(db=store)) == 10
    finally:
        store.close()


def _png(fig: Figure) -> bytes:
    data = fig._repr_png_()  # type: ignore[attr-defined]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data  # type: ignore[no-any-return]


def test_pictures_are_figures_with_titles_labels_and_legends(populated: dict[str, Any]) -> None:
    db = populated["db"]
    fig = analytics.waterfall(populated["paused"], db=db)
    ax = fig.axes[0]
    assert populated["paused"] in ax.get_title(loc="left") and "ms" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "invoke_agent support" and "  └ await_approval refund" in labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "approval wait (CHAIN)" in legend and "model call (LLM)" in legend
    _png(fig)
    failing = analytics.waterfall(populated["support"][0], db=db)
    assert "error" in [t.get_text() for t in failing.axes[0].get_legend().get_texts()]
    latency = analytics.latency_plot(db=db)
    assert [a.get_title() for a in latency.axes] == [
        "Run latency per agent", "Tool call latency per tool",
    ]  # fmt: skip
    assert all("ms" in a.get_xlabel() for a in latency.axes)
    _png(latency)
    usage = analytics.usage_plot(db=db)
    assert [a.get_ylabel() for a in usage.axes] == ["tokens", "USD"]
    _png(usage)
    with pytest.raises(RunNotFoundError):
        analytics.waterfall("run_nope", db=db)


def test_a_waterfall_squeezes_a_long_approval_wait(db_path: str) -> None:
    agent = Agent("support", model=FunctionModel(script), tools=[lookup, refund], db=db_path)
    paused = agent.run("lookup and refund")
    store = agent.store
    assert store is not None
    store.flush()

    def two_hours_earlier(con: Any) -> None:  # as if the run had paused two hours ago
        for table, columns in (("spans", ("start_time", "end_time")), ("runs", ("created_at",)),
                               ("approvals", ("requested_at",))):  # fmt: skip
            sets = ", ".join(f"{c} = {c} - INTERVAL 2 HOURS" for c in columns)
            con.execute(f"UPDATE {table} SET {sets}")

    store.call(two_hours_earlier)
    agent.desk.approve(paused.approvals[0], Principal("root"))
    agent.continue_run(paused.run_id)
    fig = analytics.waterfall(paused.run_id, db=db_path)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "idle time, squeezed" in legend
    assert "2.0 h" in [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert fig.axes[0].get_xscale() == "function"
    _png(fig)


WRITER = r"""
import sys
from agno_nb import Agent, TestModel, tool

@tool
def lookup(order_id: str) -> str:
    "Look up an order."
    return "ok"

agent = Agent("writer", model=TestModel(), tools=[lookup], db=sys.argv[1])
for i in range(int(sys.argv[2])):
    agent.run("go", session_id=f"w{i % 3}")
agent.store.close()
print("done", flush=True)
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_analytics_read_a_store_that_another_process_writes(db_path: str) -> None:
    DuckDBStore(db_path).close()  # the file exists before both start
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, db_path, "150"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    seen: list[int] = []
    while writer.poll() is None:
        seen.append(len(analytics.runs(db=db_path)))
        analytics.spans(db=db_path, kind="TOOL")
        analytics.sql("SELECT count(*) AS n FROM spans", db=db_path)
        time.sleep(0.02)
    out, err = writer.communicate()
    assert writer.returncode == 0 and out.strip() == "done", err
    assert seen == sorted(seen) and len(seen) > 3
    final = analytics.traces(db=db_path)
    assert len(final) == 150 and set(final["spans"]) == {4}
    assert analytics.sessions(db=db_path)["runs"].sum() == 150
    assert not io.StringIO(err).read().strip()
