"""@tool: schemas from hints and docstrings, validation, sync/async, RunContext."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Literal

import pytest
from pydantic import BaseModel

from agno_nb import Agent, FunctionModel, RunContext, tool
from agno_nb.events import ToolCallProgress
from agno_nb.messages import Message, ToolCallPart
from agno_nb.models.function import AgentInfo
from agno_nb.tools import Tool, ToolArgumentsError, Toolset


class Address(BaseModel):
    city: str
    zip: str | None = None


@tool
def ship(
    order_id: str,
    quantity: int,
    address: Address,
    when: date | None = None,
    speed: Literal["normal", "express"] = "normal",
) -> str:
    """Ship an order.

    Args:
        order_id: The order to ship.
        quantity: How many items.
        address: Where to.
        when: Ship date, if not today.
        speed: Shipping speed.
    """
    return f"{order_id}x{quantity} to {address.city} ({speed})"


def test_schema_comes_from_type_hints_and_docstring() -> None:
    d = ship.definition
    assert d.name == "ship"
    assert d.description == "Ship an order."
    props = d.input_schema["properties"]
    assert props["order_id"] == {"type": "string", "description": "The order to ship."}
    assert props["quantity"]["type"] == "integer"
    assert props["speed"]["enum"] == ["normal", "express"]
    assert set(d.input_schema["required"]) == {"order_id", "quantity", "address"}
    assert "Address" in d.input_schema["$defs"]
    assert "title" not in props["order_id"]


def test_validate_converts_and_rejects_with_a_clear_message() -> None:
    args = ship.validate({"order_id": "42", "quantity": "3", "address": {"city": "Oslo"}})
    assert args["quantity"] == 3
    assert isinstance(args["address"], Address)
    with pytest.raises(ToolArgumentsError) as err:
        ship.validate({"order_id": "42", "quantity": "many", "address": {}, "colour": "red"})
    message = str(err.value)
    assert "Invalid arguments for tool 'ship'" in message
    assert "quantity" in message and "address.city" in message and "colour" in message


def test_tool_decorator_with_options_and_direct_call() -> None:
    @tool(name="refund_order", description="Refund.", approval="required")
    def refund(order_id: str) -> str:
        return order_id

    assert isinstance(refund, Tool)
    assert refund.name == "refund_order" and refund.approval == "required"
    assert refund.definition.description == "Refund."
    assert refund("7") == "7"


def test_varargs_are_refused() -> None:
    @tool
    def bad(*names: str) -> None: ...

    with pytest.raises(TypeError, match=r"\*args"):
        _ = bad.definition


def _call_then_answer(calls: list[ToolCallPart]):  # type: ignore[no-untyped-def]
    def play(messages: list[Message], info: AgentInfo) -> list[ToolCallPart] | str:
        if len(messages) == 1:
            return calls
        results = list(messages[-1].parts)
        return " | ".join(
            f"{p.name}:{'ERR' if p.is_error else 'OK'}:{p.content}"  # type: ignore[union-attr]
            for p in results
        )

    return FunctionModel(play)


async def test_sync_and_async_tools_and_run_context() -> None:
    seen: list[RunContext] = []

    @tool
    async def fetch(ctx: RunContext, key: str) -> dict[str, str]:
        """Fetch a key."""
        seen.append(ctx)
        return {"key": key, "user": ctx.user_id}

    @tool
    def add(a: int, b: int) -> int:
        return a + b

    assert "ctx" not in fetch.definition.input_schema["properties"]
    model = _call_then_answer(
        [ToolCallPart("c1", "fetch", {"key": "k"}), ToolCallPart("c2", "add", {"a": 1, "b": 2})]
    )
    agent = Agent("t", model=model, tools=[fetch, add], db=False)
    run = await agent.arun("go", user_id="ana", session_id="s")
    assert run.status == "completed"
    assert run.content == "fetch:OK:{'key': 'k', 'user': 'ana'} | add:OK:3"
    assert seen[0].run_id == run.run_id and seen[0].session_id == "s"
    assert (seen[0].agent_id, seen[0].agent_name) == ("t", "t")
    assert not hasattr(seen[0], "agent")  # a tool never gets the mutable agent
    assert [t.result for t in run.tool_calls] == [{"key": "k", "user": "ana"}, 3]


async def test_bad_arguments_exceptions_and_unknown_tools_go_back_to_the_model() -> None:
    @tool
    def boom(x: int) -> int:
        raise RuntimeError("disk full")

    model = _call_then_answer(
        [
            ToolCallPart("c1", "boom", {"x": "not a number"}),
            ToolCallPart("c2", "boom", {"x": 1}),
            ToolCallPart("c3", "nope", {}),
        ]
    )
    agent = Agent("t", model=model, tools=[boom], db=False)
    events = [e async for e in agent.arun("go", stream=True)]
    run = events[-1].run  # type: ignore[union-attr]
    assert run.status == "completed"
    errors = [t.error for t in run.tool_calls]
    assert errors[0].startswith("Invalid arguments for tool 'boom': x:")
    assert errors[1] == "Tool 'boom' raised RuntimeError: disk full"
    assert errors[2] == "Unknown tool 'nope'. Available tools: boom."
    assert [type(e).__name__ for e in events].count("ToolCallError") == 3
    assert run.content.count("ERR") == 3


async def test_long_tools_report_progress_into_the_event_stream() -> None:
    async def crunch(ctx: RunContext, n: int) -> str:
        for i in range(1, n + 1):
            await asyncio.sleep(0)
            ctx.report_progress(i, n, f"step {i}")
        return "crunched"

    slow = Tool(crunch, reports_progress=True)
    model = _call_then_answer([ToolCallPart("c1", "crunch", {"n": 3})])
    agent = Agent("t", model=model, tools=[slow], db=False)
    events = [e async for e in agent.arun("go", stream=True)]
    progress = [e for e in events if isinstance(e, ToolCallProgress)]
    assert [(p.progress, p.total, p.message) for p in progress] == [
        (1, 3, "step 1"),
        (2, 3, "step 2"),
        (3, 3, "step 3"),
    ]
    names = [type(e).__name__ for e in events]
    assert names.index("ToolCallStarted") < names.index("ToolCallProgress")
    assert names.index("ToolCallCompleted") > len(names) - 6
    assert progress[0].to_dict()["progress"] == 1


class StaticToolset:
    """A toolset, as an MCP server would be: tools known only once connected."""

    def __init__(self) -> None:
        self.connects = 0
        self._tools: list[Tool] | None = None

    async def get_tools(self) -> list[Tool]:
        if self._tools is None:
            self.connects += 1

            async def remote_echo(text: str) -> str:
                return text.upper()

            schema = {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
                "additionalProperties": False,
            }
            self._tools = [
                Tool(
                    remote_echo,
                    name="echo",
                    description="Echo.",
                    input_schema=schema,
                    metadata={"server": "fake"},
                )
            ]
        return self._tools


async def test_toolsets_are_resolved_at_run_time_with_given_schemas() -> None:
    toolset = StaticToolset()
    assert isinstance(toolset, Toolset)
    model = _call_then_answer(
        [ToolCallPart("c1", "echo", {"text": "hi"}), ToolCallPart("c2", "echo", {"txt": "hi"})]
    )
    agent = Agent("t", model=model, tools=[toolset], db=False)
    run = await agent.arun("go")
    assert run.content.startswith(
        "echo:OK:HI | echo:ERR:Invalid arguments for tool 'echo': "
        "text: Field required; txt: Extra inputs are not permitted"
    )
    await agent.arun("again")
    assert toolset.connects == 1
    assert agent.tool_definitions[0].input_schema["required"] == ["text"]


def test_plain_functions_get_one_shared_tool() -> None:
    def ping(host: str) -> str:
        return host

    first = Agent("a", tools=[ping], db=False).tools[0]
    second = Agent("b", tools=[ping], db=False).tools[0]
    assert first is second and first.name == "ping"
