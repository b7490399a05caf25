"""agno-nb's side of the scenario: agents and the raw SDK client of this venv."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from bench._scenario import API_KEY, INSTRUCTIONS, MAX_TOKENS, MODEL_ID, get_weather

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

    from agno_nb import Agent, RunOutput, Tool


def agent(
    url: str,
    *,
    db: str | Literal[False] = False,
    history: bool = False,
    session_id: str | None = None,
    tool: Tool | None = None,
) -> Agent:
    """An agent with a model object, instructions and the one tool (by default the plain
    function, as Agno gets it)."""
    from agno_nb import Agent, Claude

    model = Claude(MODEL_ID, api_key=API_KEY, base_url=url, max_tokens=MAX_TOKENS)
    return Agent(
        "bench",
        model=model,
        instructions=INSTRUCTIONS,
        tools=[tool or get_weather],
        db=db,
        add_history_to_context=history,
        num_history_runs=3,
        session_id=session_id,
    )


def shared_tool() -> Tool:
    """``get_weather`` as one ``Tool`` object, to give to many agents."""
    from agno_nb import tool

    return tool(get_weather)


def async_client(url: str) -> AsyncAnthropic:
    """A raw SDK client for one baseline variant, reused by all its runs."""
    from anthropic import AsyncAnthropic

    return AsyncAnthropic(api_key=API_KEY, base_url=url)


def check_run(run: RunOutput | Any) -> None:
    """The scenario really happened (one tool call, final text): not a timing check."""
    if len(run.tool_calls) != 1 or run.tool_calls[0].status != "completed" or not run.content:
        raise RuntimeError(f"unexpected agno-nb run: {run.tool_calls!r} {run.content!r}")
