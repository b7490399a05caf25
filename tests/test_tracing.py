"""Spans: one per run, model call, tool call and approval wait, in DuckDB, with
OpenInference names; one trace per run even across a pause and another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agno_nb import Agent, Claude, Principal, TestModel, tool
from agno_nb.events import RunContent
from agno_nb.exceptions import ConfigError, ModelAPIError
from agno_nb.storage import _spans
from agno_nb.storage.duckdb import DuckDBStore
from agno_nb.testing import FakeAnthropic, Turn
from agno_nb.testing.fake_anthropic import ToolCall
from agno_nb.tools import Tool
from tests.approval_agent import build
from tests.approval_worker import run_worker
from tests.claude_support import claude, fail, lookup_order

ROOT = Path(__file__).resolve().parents[1]
HAIKU = "claude-haiku-4-5"  # priced in agno_nb.pricing


def rows(store: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``sql`` as dicts (after the store's queued writes)."""

    def job(con: Any) -> list[dict[str, Any]]:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    result: list[dict[str, Any]] = store.call(job)
    return result


def oi(store: Any, trace_id: str) -> dict[str, dict[str, Any]]:
    """OpenInference attributes of a trace's spans, by span name."""
    found = rows(store, "SELECT name, attributes FROM openinference_spans WHERE trace_id = ?",
                 [trace_id])  # fmt: skip
    return {r["name"]: json.loads(r["attributes"]) for r in found}


def test_a_run_leaves_one_trace_with_a_span_per_model_and_tool_call(
    fake: FakeAnthropic, db_path: str
) -> None:
    fake.reset(
        [
            Turn.tool_calls(
                [ToolCall("lookup_order", {"order_id": "42"}), ToolCall("fail", {"reason": "no"})],
                input_tokens=1000, output_tokens=200, cache_read_input_tokens=5000,
                cache_creation_input_tokens=400,
            ),
            Turn.text("42 has shipped.", input_tokens=100, output_tokens=10),
        ]
    )  # fmt: skip
    agent = Agent("support", model=claude(fake, HAIKU), tools=[lookup_order, fail], db=db_path)
    run = agent.run("Where is 42?", session_id="s1", user_id="ana")
    store = agent.store
    spans = rows(store, "SELECT * FROM spans ORDER BY start_time, kind")
    assert [s["name"] for s in spans] == [
        "invoke_agent support", "chat claude-haiku-4-5", "execute_tool lookup_order",
        "execute_tool fail", "chat claude-haiku-4-5",
    ]  # fmt: skip
    root = spans[0]
    assert (root["kind"], root["status"], root["parent_span_id"]) == ("AGENT", "OK", None)
    assert {s["trace_id"] for s in spans} == {run.trace_id}
    assert root["span_id"] == run.root_span_id
    assert all(s["parent_span_id"] == root["span_id"] for s in spans[1:])
    assert all(s["start_time"] >= root["start_time"] and s["end_time"] <= root["end_time"]
               for s in spans[1:])  # fmt: skip
    assert {(s["run_id"], s["session_id"], s["user_id"], s["agent_id"]) for s in spans} == {
        (run.run_id, "s1", "ana", "support")
    }
    first = spans[1]
    assert (first["prompt_tokens"], first["completion_tokens"]) == (6400, 200)
    assert (first["cache_read_tokens"], first["cache_write_tokens"]) == (5000, 400)
    # claude-haiku-4-5: $1 input, $5 output, $0.10 cache read, $1.25 cache write per MTok
    assert first["cost_prompt_usd"] == pytest.approx(0.001 + 0.0005 + 0.0005)
    assert first["cost_completion_usd"] == pytest.approx(0.001)
    assert first["cost_usd"] == pytest.approx(0.003)
    failed = spans[3]
    assert (failed["status"], failed["error_type"]) == ("ERROR", "ValueError")
    assert failed["status_message"] == "Tool 'fail' raised ValueError: no"
    stored = store.get_run(run.run_id)  # type: ignore[union-attr]
    assert stored is not None and stored.trace_id == run.trace_id
    attrs = oi(store, run.trace_id or "")
    llm = next(a for name, a in attrs.items() if name.startswith("chat"))
    assert llm["openinference.span.kind"] == "LLM"
    assert llm["llm.model_name"] == "claude-haiku-4-5"
    assert llm["llm.token_count.prompt_details.cache_read"] in (5000, 0)
    assert {"llm.cost.prompt", "llm.cost.completion", "llm.cost.total"} <= set(llm)
    assert attrs["execute_tool lookup_order"]["tool.parameters"] == '{"order_id": "42"}'
    assert attrs["execute_tool lookup_order"]["output.value"] == (
        '{"id": "42", "status": "shipped"}'
    )
    assert attrs["execute_tool fail"]["exception.type"] == "ValueError"
    assert attrs["invoke_agent support"]["input.value"] == "Where is 42?"
    assert attrs["invoke_agent support"]["output.value"] == "42 has shipped."
    assert attrs["invoke_agent support"]["session.id"] == "s1"
    assert attrs["invoke_agent support"]["user.id"] == "ana"


def test_an_unknown_model_costs_null_never_a_guess(fake: FakeAnthropic, db_path: str) -> None:
    fake.reset([Turn.text("hi", input_tokens=10, output_tokens=2)])
    agent = Agent("a", model=claude(fake, "claude-unpriced-1"), db=db_path)
    run = agent.run("go")
    [llm] = rows(agent.store, "SELECT * FROM spans WHERE kind = 'LLM'")
    assert llm["model"] == "claude-unpriced-1" and llm["prompt_tokens"] == 10
    assert (llm["cost_usd"], llm["cost_prompt_usd"]) == (None, None)
    assert "llm.cost.total" not in oi(agent.store, run.trace_id or "")["chat claude-unpriced-1"]


def test_a_model_error_fails_the_model_span_and_the_run_span(
    fake: FakeAnthropic, db_path: str
) -> None:
    fake.reset([Turn.error(500, "scripted outage")])
    agent = Agent("a", model=claude(fake, HAIKU), db=db_path)
    with pytest.raises(ModelAPIError):
        agent.run("go")
    spans = {s["kind"]: s for s in rows(agent.store, "SELECT * FROM spans")}
    assert spans["LLM"]["status"] == spans["AGENT"]["status"] == "ERROR"
    assert spans["LLM"]["error_type"] == spans["AGENT"]["error_type"] == "ModelAPIError"
    assert "scripted outage" in spans["AGENT"]["status_message"]


def test_tool_metadata_such_as_the_mcp_server_is_in_the_span_attributes(db_path: str) -> None:
    def now(tz: str) -> str:
        return f"12:00 in {tz}"

    remote = Tool(
        now, name="get_current_time", description="time",
        input_schema={"type": "object", "properties": {"tz": {"type": "string"}}},
        metadata={"mcp_server": "mcp-server-time", "transport": "stdio"},
    )  # fmt: skip
    agent = Agent("a", model=TestModel(), tools=[remote], db=db_path)
    run = agent.run("what time is it?")
    attrs = oi(agent.store, run.trace_id or "")["execute_tool get_current_time"]
    assert attrs["tool.metadata.mcp_server"] == "mcp-server-time"
    assert attrs["tool.metadata.transport"] == "stdio"
    assert attrs["tool.name"] == "get_current_time"


def test_tracing_false_records_nothing(db_path: str) -> None:
    agent = Agent("a", model=TestModel(), tools=[lookup_order], db=db_path, tracing=False)
    run = agent.run("go")
    assert run.trace_id is None
    assert rows(agent.store, "SELECT count(*) AS n FROM spans") == [{"n": 0}]
    with pytest.raises(ConfigError, match="tracing must be"):
        Agent("a", tracing="jaeger")  # type: ignore[arg-type]


def test_a_consumer_that_stops_early_leaves_a_cancelled_run_span(
    fake: FakeAnthropic, db_path: str
) -> None:
    fake.reset([Turn.text("a long answer in many little pieces for the reader")])
    agent = Agent("a", model=claude(fake, HAIKU), db=db_path)
    for event in agent.run("go", stream=True):
        if isinstance(event, RunContent):
            break
    store = agent.store
    deadline = time.monotonic() + 5
    while not rows(store, "SELECT * FROM spans WHERE kind = 'AGENT'"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    [root] = rows(store, "SELECT * FROM spans WHERE kind = 'AGENT'")
    assert (root["status"], root["status_message"]) == ("ERROR", "cancelled")


def test_spans_of_many_runs_are_written_in_few_batches(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inserts: list[int] = []
    real = _spans.insert_spans

    def counting(con: Any, batch: list[Any]) -> None:
        inserts.append(len(batch))
        real(con, batch)

    monkeypatch.setattr(_spans, "insert_spans", counting)
    agent = Agent("a", model=TestModel(), tools=[lookup_order], db=db_path)
    store = agent.store
    assert isinstance(store, DuckDBStore)
    store.submit(lambda con: time.sleep(0.3))  # the store thread is busy: spans queue up
    for _ in range(20):
        agent.run("go")
    store.flush()
    assert sum(inserts) == 20 * 4 and len(inserts) <= 3


def test_a_paused_run_continued_in_another_process_is_one_trace(
    db_path: str, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SIDE_EFFECTS": str(tmp_path / "fx")}

    def worker(*args: str) -> dict[str, Any]:
        return run_worker(env, *args)

    paused = worker("pause", db_path, "Refund order 42", "ana")
    with DuckDBStore(db_path) as store:
        before = rows(store, "SELECT kind, name FROM spans ORDER BY start_time")
        assert ("AGENT", "invoke_agent support") not in {(r["kind"], r["name"]) for r in before}
        time.sleep(0.3)  # somebody takes a while to decide
        build(db_path).store.decide_approval(  # type: ignore[union-attr]
            paused["approvals"][0], status="approved", decided_by=Principal("bob").user_id
        )
    assert worker("continue", db_path, paused["run_id"])["status"] == "completed"
    with DuckDBStore(db_path) as store:
        run = store.get_run(paused["run_id"])
        assert run is not None and run.trace_id and run.root_span_id
        spans = rows(store, "SELECT * FROM spans ORDER BY start_time")
        attrs = oi(store, run.trace_id)
    assert {s["trace_id"] for s in spans} == {run.trace_id}
    kinds = [s["kind"] for s in spans]
    assert kinds.count("AGENT") == 1 and kinds.count("CHAIN") == 1
    assert kinds.count("LLM") == 2 and kinds.count("TOOL") == 2
    root = next(s for s in spans if s["kind"] == "AGENT")
    assert root["span_id"] == run.root_span_id and root["status"] == "OK"
    assert all(s["parent_span_id"] == root["span_id"] for s in spans if s is not root)
    wait = next(s for s in spans if s["kind"] == "CHAIN")
    assert wait["name"] == "await_approval refund" and wait["duration_ms"] >= 300
    assert attrs["await_approval refund"]["approval.status"] == "approved"
    assert attrs["await_approval refund"]["approval.decided_by"] == "bob"
    assert attrs["execute_tool refund"]["approval.id"] == paused["approvals"][0]
    assert root["start_time"] <= wait["start_time"] and wait["end_time"] <= root["end_time"]


def test_importing_the_recorder_loads_no_heavy_module() -> None:
    code = (
        "import sys, agno_nb, agno_nb.tracing, agno_nb.analytics\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'duckdb', 'matplotlib', 'IPython') "
        "if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_secrets_never_reach_the_spans(
    fake: FakeAnthropic, db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"
    token = "ghp_0123456789abcdefABCDEF"
    secret = "correct-horse-battery-staple"
    model_key = "explicit-model-key-98765"
    monkeypatch.setenv("ANTHROPIC_API_KEY", env_key)
    monkeypatch.setenv("GITHUB_TOKEN", token)
    monkeypatch.setenv("billing_secret", secret)
    monkeypatch.setenv("SHORT_KEY", "abc")  # under 8 characters: left alone

    @tool
    def call_api(url: str, auth: str) -> str:
        """Call an API."""
        return f"called {url} with {auth}; header Authorization: Bearer zyxwvu98765; x={secret}"

    fake.reset([
        Turn.tool_call("call_api", {"url": "https://api.example/v1?token=" + token,
                                    "auth": f"{env_key} {model_key}"}),
        Turn.text(f"Your key {env_key} works; abc stays."),
    ])  # fmt: skip
    model = Claude("claude-haiku-4-5", api_key=model_key, base_url=fake.url, max_retries=0)
    agent = Agent("a", model=model, tools=[call_api], db=db_path)
    agent.run(f"use {env_key} and {secret}")
    dump = json.dumps(rows(agent.store, "SELECT * FROM spans"), default=str)
    dump += json.dumps(rows(agent.store, "SELECT * FROM openinference_spans"), default=str)
    for value in (env_key, token, secret, model_key, "zyxwvu98765"):
        assert value not in dump
    assert dump.count("[REDACTED]") >= 8
    assert "abc stays" in dump
