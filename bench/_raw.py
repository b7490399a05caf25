"""The raw SDK baselines: the scenario's two calls made by hand with ``anthropic``.

Stdlib only (the client is passed in), so that both venvs time the very same code.
"""

from __future__ import annotations

from typing import Any

from bench._scenario import (
    INSTRUCTIONS,
    MAX_TOKENS,
    MODEL_ID,
    PROMPT,
    TOOL_SCHEMA,
    get_weather,
    tool_result_message,
)

Json = dict[str, Any]


def _params(messages: list[Json]) -> Json:
    return {
        "model": MODEL_ID,
        "max_tokens": MAX_TOKENS,
        "system": INSTRUCTIONS,
        "messages": messages,
        "tools": [TOOL_SCHEMA],
    }


def _follow_up(messages: list[Json], message: Any) -> list[Json]:
    call = message.content[-1]
    content = [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}]
    result = get_weather(**call.input)
    return [
        *messages,
        {"role": "assistant", "content": content},
        tool_result_message(call.id, result),
    ]


async def raw_create(client: Any) -> str:
    messages: list[Json] = [{"role": "user", "content": PROMPT}]
    first = await client.messages.create(**_params(messages))
    final = await client.messages.create(**_params(_follow_up(messages, first)))
    return str(final.content[0].text)


async def _stream_call(client: Any, messages: list[Json]) -> Any:
    async with client.messages.stream(**_params(messages)) as stream:
        async for _event in stream:
            pass
        return await stream.get_final_message()


async def raw_stream(client: Any) -> str:
    messages: list[Json] = [{"role": "user", "content": PROMPT}]
    first = await _stream_call(client, messages)
    final = await _stream_call(client, _follow_up(messages, first))
    return str(final.content[0].text)


def raw_sync_create(client: Any) -> str:
    messages: list[Json] = [{"role": "user", "content": PROMPT}]
    first = client.messages.create(**_params(messages))
    final = client.messages.create(**_params(_follow_up(messages, first)))
    return str(final.content[0].text)
