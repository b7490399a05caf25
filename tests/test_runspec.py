"""A run reads a spec fixed when it starts, never the mutable agent."""

from __future__ import annotations

from typing import Any

from agno_nb import Agent, FunctionModel, Principal, RunContext, tool
from agno_nb.messages import Message, ToolCallPart, ToolResultPart
from agno_nb.models.function import AgentInfo


@tool
def lookup(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id}"


@tool
def other(x: int) -> int:
    """Another tool."""
    return x


def test_changing_the_agent_during_a_run_does_not_change_that_run() -> None:
    seen: list[tuple[str | None, list[str]]] = []

    def play(messages: list[Message], info: AgentInfo) -> Any:
        seen.append((info.system, [t.name for t in info.tools]))
        if isinstance(messages[-1].parts[-1], ToolResultPart):
            return "done"
        return [ToolCallPart("c1", "lookup", {"order_id": "1"})]

    agent = Agent("a", model=FunctionModel(play), tools=[lookup], instructions="first", db=False)
    events = agent.run("go", stream=True)
    for event in events:
        if type(event).__name__ == "ToolCallStarted":
            # a cell that redefines the agent while the run streams
            agent.instructions = "second"
            agent.tool_specs = [other]
            agent._system_prompt = False
            agent._tools = agent._tools_by_name = agent._tool_definitions = None
    assert seen == [("first", ["lookup"]), ("first", ["lookup"])]
    seen.clear()
    agent.run("go again")
    assert seen[0] == ("second", ["other"])


def test_a_continued_run_is_judged_by_the_rules_of_the_agent_that_continues_it(
    db_path: str,
) -> None:
    """A continue builds a new spec from the agent as it is then (the same definition
    in another process, say)."""

    @tool(approval="required")
    def refund(amount: float) -> str:
        """Refund."""
        return f"refunded {amount}"

    def play(messages: list[Message], info: AgentInfo) -> Any:
        if isinstance(messages[-1].parts[-1], ToolResultPart):
            return f"system={info.system}"
        return [ToolCallPart("c1", "refund", {"amount": 5.0})]

    agent = Agent("a", model=FunctionModel(play), tools=[refund], instructions="v1", db=db_path)
    run = agent.run("go", user_id="ana")
    agent.desk.approve(run.approvals[0], by=Principal("bob"))
    again = Agent("a", model=FunctionModel(play), tools=[refund], instructions="v2", db=db_path)
    assert again.continue_run(run.run_id).content == "system=v2"


def test_a_tool_context_carries_ids_not_the_agent() -> None:
    got: list[RunContext] = []

    @tool
    def probe(ctx: RunContext) -> str:
        got.append(ctx)
        return "ok"

    def play(messages: list[Message], info: AgentInfo) -> Any:
        if isinstance(messages[-1].parts[-1], ToolResultPart):
            return "done"
        return [ToolCallPart("c1", "probe", {})]

    Agent("Support Bot", model=FunctionModel(play), tools=[probe], db=False).run("go")
    (ctx,) = got
    assert (ctx.agent_id, ctx.agent_name) == ("support-bot", "Support Bot")
    assert "agent" not in type(ctx).__dataclass_fields__
