"""A model that reuses a tool-call id: each call still runs, under an id of its own."""

from __future__ import annotations

import re
from typing import Any

import pytest

from agno_nb import Agent, FunctionModel, Principal, tool
from agno_nb.messages import Message, ToolCallPart, ToolResultPart
from agno_nb.models.function import AgentInfo
from agno_nb.testing import FakeAnthropic, Turn
from agno_nb.testing.fake_anthropic import ToolCall
from tests.claude_support import claude, lookup_order


@tool
def lookup(order_id: str) -> str:
    return f"order {order_id}: delivered"


@tool(approval="required")
def refund(order_id: str) -> str:
    return f"refunded {order_id}"


def _same_id_then_answer(*calls: tuple[str, dict[str, Any]]) -> FunctionModel:
    """A model that asks for ``calls`` all under the id ``dup`` (then again in its second
    turn), then lists the results it got."""

    def play(messages: list[Message], info: AgentInfo) -> list[ToolCallPart] | str:
        turns = sum(m.role == "assistant" for m in messages)
        if turns < 2:
            return [ToolCallPart("dup", name, args) for name, args in calls]
        return " | ".join(
            f"{p.tool_call_id}={p.content}"
            for m in messages
            for p in m.parts
            if isinstance(p, ToolResultPart)
        )

    return FunctionModel(play)


def _ids(run_messages: list[Message]) -> tuple[list[str], list[str]]:
    calls = [p.id for m in run_messages for p in m.parts if isinstance(p, ToolCallPart)]
    results = [
        p.tool_call_id for m in run_messages for p in m.parts if isinstance(p, ToolResultPart)
    ]
    return calls, results


def test_two_calls_with_one_id_both_run_under_distinct_ids() -> None:
    model = _same_id_then_answer(("lookup", {"order_id": "1"}), ("lookup", {"order_id": "2"}))
    run = Agent("t", model=model, tools=[lookup], db=False).run("go")
    assert run.status == "completed"
    assert [(t.id, t.result) for t in run.tool_calls] == [
        ("dup", "order 1: delivered"),
        ("dup_2", "order 2: delivered"),
        ("dup_3", "order 1: delivered"),  # reused again in the next turn
        ("dup_4", "order 2: delivered"),
    ]
    calls, results = _ids(run.messages)
    assert calls == results == ["dup", "dup_2", "dup_3", "dup_4"]
    assert run.content == (
        "dup=order 1: delivered | dup_2=order 2: delivered | "
        "dup_3=order 1: delivered | dup_4=order 2: delivered"
    )


def test_the_approved_call_of_a_reused_id_runs(db_path: str) -> None:
    model = _same_id_then_answer(("refund", {"order_id": "42"}), ("lookup", {"order_id": "42"}))
    agent = Agent("t", model=model, tools=[refund, lookup], db=db_path)
    run = agent.run("go", user_id="ana")
    assert run.status == "paused"
    assert [(a.tool_call_id, a.tool_name) for a in run.approvals] == [("dup", "refund")]
    agent.desk.approve(run.approvals[0], by=Principal("ana"))
    run = agent.continue_run(run.run_id)
    assert [(t.id, t.name, t.status) for t in run.tool_calls[:2]] == [
        ("dup", "refund", "completed"),
        ("dup_2", "lookup", "completed"),
    ]
    assert run.status == "paused"  # the second turn reuses the id for a refund again
    assert [(a.tool_call_id, a.tool_name) for a in run.approvals] == [("dup_3", "refund")]
    agent.desk.approve(run.approvals[0], by=Principal("ana"))
    run = agent.continue_run(run.run_id)
    assert run.status == "completed"
    assert run.content.startswith("dup=refunded 42 | dup_2=order 42: delivered | dup_3=refunded")


def test_reused_ids_reach_claude_unique_and_matched(fake: FakeAnthropic) -> None:
    fake.reset(
        [
            Turn.tool_calls(
                [
                    ToolCall("lookup_order", {"order_id": "1"}, id="toolu_same"),
                    ToolCall("lookup_order", {"order_id": "2"}, id="toolu_same"),
                ]
            ),
            Turn.text("Both orders have shipped."),
        ]
    )
    agent = Agent("support", model=claude(fake), tools=[lookup_order], db=False)
    run = agent.run("Where are orders 1 and 2?")
    assert run.status == "completed" and run.content == "Both orders have shipped."
    assistant, results = fake.requests[1].messages[-2:]
    assert [b["id"] for b in assistant["content"]] == ["toolu_same", "toolu_same_2"]
    assert [(b["tool_use_id"], b["content"]) for b in results["content"]] == [
        ("toolu_same", '{"id": "1", "status": "shipped"}'),
        ("toolu_same_2", '{"id": "2", "status": "shipped"}'),
    ]


def test_the_fake_refuses_what_the_api_refuses(fake: FakeAnthropic) -> None:
    import anthropic

    client = anthropic.Anthropic(api_key="sk-test", base_url=fake.url, max_retries=0)
    use = {"type": "tool_use", "id": "t1", "name": "lookup_order", "input": {}}
    cases = [
        ([use, use], [], "messages.1.content.1: `tool_use` ids must be unique"),
        ([use], [("t2", "x")], "unexpected `tool_use_id` found in `tool_result` blocks: t2"),
    ]
    for uses, results, error in cases:
        fake.reset([Turn.text("ok")])
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": uses},
        ]
        blocks = [{"type": "tool_result", "tool_use_id": i, "content": c} for i, c in results]
        messages.append({"role": "user", "content": blocks or "go on"})
        with pytest.raises(anthropic.BadRequestError, match=re.escape(error)):
            client.messages.create(model="m", max_tokens=10, messages=messages)  # type: ignore[arg-type]
    client.close()
