"""Agent: run / arun / streaming, output_schema, limits, RunOutput contents."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from agno_nb import Agent, FunctionModel, TestModel, tool
from agno_nb.events import RunCompleted, RunContent, RunError
from agno_nb.exceptions import ConfigError, OutputValidationError, ToolCallLimitError
from agno_nb.messages import Message, TextPart, ToolCallPart
from agno_nb.models import infer_model
from agno_nb.models.anthropic import Claude
from agno_nb.models.function import AgentInfo


@tool
def lookup_order(order_id: str) -> dict[str, str]:
    """Look up an order by its id."""
    return {"id": order_id, "status": "shipped"}


def test_run_outside_an_event_loop_returns_a_complete_run_output() -> None:
    agent = Agent(
        "support",
        model=TestModel(),
        tools=[lookup_order],
        db=False,
        instructions="Be brief.",
        markdown=True,
    )
    run = agent.run("Where is order 42?", user_id="ana", session_id="s1")
    assert run.status == "completed"
    assert json.loads(run.content) == {"lookup_order": {"id": "a", "status": "shipped"}}
    assert (run.user_id, run.session_id, run.agent_id) == ("ana", "s1", "support")
    assert run.run_id.startswith("run_")
    assert [m.role for m in run.messages] == ["user", "assistant", "user", "assistant"]
    assert run.tool_calls[0].name == "lookup_order" and run.tool_calls[0].status == "completed"
    assert run.tool_calls[0].duration_ms is not None
    assert run.usage.requests == 2 and run.usage.input_tokens > 0
    assert run.finished_at is not None and run.duration_ms is not None and run.duration_ms >= 0
    assert agent.system_prompt == "Be brief.\n\nUse Markdown to format your answers."


async def test_run_works_inside_a_running_event_loop_like_a_jupyter_cell() -> None:
    asyncio.get_running_loop()  # we are inside one
    agent = Agent("support", model=TestModel(), tools=[lookup_order], db=False)
    run = agent.run("Where is order 42?")
    assert run.status == "completed"
    events = list(agent.run("again", stream=True))
    assert isinstance(events[-1], RunCompleted)


async def test_streaming_yields_the_architecture_events_in_order() -> None:
    agent = Agent(
        "support",
        model=TestModel(custom_output_text="Order 42 has shipped."),
        tools=[lookup_order],
        db=False,
    )
    names = [type(e).__name__ async for e in agent.arun("Where?", stream=True)]
    assert names[:5] == [
        "RunStarted",
        "ModelRequestStarted",
        "ModelRequestCompleted",
        "ToolCallStarted",
        "ToolCallCompleted",
    ]
    assert names[-1] == "RunCompleted"
    assert names.count("RunContent") >= 2
    text = "".join(e.content for e in agent.run("Where?", stream=True) if isinstance(e, RunContent))
    assert text == "Order 42 has shipped."


def test_events_serialise_like_agentos() -> None:
    agent = Agent("support", model=TestModel(), tools=[lookup_order], db=False)
    for event in agent.run("x", stream=True):
        data = event.to_dict()
        assert data["event"] == type(event).__name__
        assert {"run_id", "agent_id", "session_id"} <= data.keys()
        json.dumps(data)


class Weather(BaseModel):
    city: str
    celsius: float


def test_output_schema_validates_the_final_answer() -> None:
    agent = Agent(
        "w",
        model=TestModel(custom_output_args={"city": "Oslo", "celsius": 3}),
        output_schema=Weather,
        db=False,
    )
    run = agent.run("weather?")
    assert run.content == Weather(city="Oslo", celsius=3)
    assert "final_result" in [d.name for d in agent.tool_definitions]
    assert run.to_dict()["content"] == {"city": "Oslo", "celsius": 3.0}


def test_output_schema_gives_the_model_a_second_chance_then_a_clear_error() -> None:
    answers = iter(["not json", '{"city": "Oslo", "celsius": 2}'])

    def play(messages: list[Message], info: AgentInfo) -> str:
        return next(answers)

    run = Agent("w", model=FunctionModel(play), output_schema=Weather, db=False).run("?")
    assert run.content == Weather(city="Oslo", celsius=2)
    assert "does not fit the required schema" in run.messages[2].text

    def bad(messages: list[Message], info: AgentInfo) -> list[ToolCallPart]:
        return [ToolCallPart(f"c{len(messages)}", "final_result", {"city": "Oslo"})]

    agent = Agent("w", model=FunctionModel(bad), output_schema=Weather, db=False)
    with pytest.raises(
        OutputValidationError, match=r"Weather after 2 attempt.*celsius: Field required"
    ):
        agent.run("?")


def test_a_model_that_never_stops_calling_tools_hits_max_turns() -> None:
    def loop(messages: list[Message], info: AgentInfo) -> list[ToolCallPart]:
        return [ToolCallPart(f"c{len(messages)}", "lookup_order", {"order_id": "1"})]

    agent = Agent("l", model=FunctionModel(loop), tools=[lookup_order], db=False, max_turns=3)
    with pytest.raises(ToolCallLimitError, match="3 requests"):
        agent.run("go")
    events = list(agent.run("go", stream=True))
    assert isinstance(events[-1], RunError) and events[-1].run.status == "failed"


def test_model_strings_and_lazy_resolution() -> None:
    agent = Agent("a", model="anthropic:claude-sonnet-4-6")
    assert isinstance(agent.model, Claude) and agent.model.id == "claude-sonnet-4-6"
    assert isinstance(infer_model("claude-haiku-4-5"), Claude)
    assert isinstance(infer_model("test"), TestModel)
    with pytest.raises(ConfigError, match="unknown model provider 'openai'"):
        infer_model("openai:gpt-5")


def test_function_model_sees_history_free_messages_and_tool_definitions() -> None:
    seen: list[AgentInfo] = []

    def play(messages: list[Message], info: AgentInfo) -> list[TextPart]:
        seen.append(info)
        return [TextPart("hi")]

    run = Agent(
        "a", model=FunctionModel(play), tools=[lookup_order], db=False, description="A helper."
    ).run("hello")
    assert run.content == "hi"
    assert seen[0].system == "A helper."
    assert [t.name for t in seen[0].tools] == ["lookup_order"]


def test_sync_runs_from_short_lived_threads_leave_no_open_loops() -> None:
    import gc
    import threading
    import warnings

    agent = Agent("support", model=TestModel(), tools=[lookup_order], db=False)
    results: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for _ in range(3):
            thread = threading.Thread(target=lambda: results.append(str(agent.run("x").status)))
            thread.start()
            thread.join()
        gc.collect()
    assert results == ["completed"] * 3
