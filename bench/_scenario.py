"""The benchmark scenario, shared by every side (stdlib only).

A "run" is two model calls and one tool call: the fake model answers a conversation whose
last message is the user's prompt with a ``get_weather`` tool call, and the follow-up
(whose last message carries the tool result) with text.
"""

from __future__ import annotations

from typing import Any

MODEL_ID = "claude-sonnet-4-6"
MAX_TOKENS = 4096
API_KEY = "bench-key"
PROMPT = "What is the weather in Paris?"
INSTRUCTIONS = "You are a concise weather assistant. Use the tools you have."
TOOL_NAME = "get_weather"
TOOL_INPUT = {"city": "Paris"}
ANSWER = "It is sunny and 21 degrees in Paris."

TOOL_SCHEMA: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "Get the current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "The city name."}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return f"Sunny, 21 degrees in {city}."


def tool_result_message(tool_use_id: str, content: str) -> dict[str, Any]:
    """The user message that carries a tool result (for the raw SDK baselines)."""
    block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    return {"role": "user", "content": [block]}


def last_has_tool_result(messages: list[dict[str, Any]]) -> bool:
    """Whether the last message of a request carries a ``tool_result`` block."""
    if not messages:
        return False
    content = messages[-1].get("content")
    if not isinstance(content, list):
        return False
    return any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
