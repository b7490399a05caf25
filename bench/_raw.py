"""The raw SDK baselines: the scenario's two calls made by hand with ``anthropic``.

Stdlib only (the client is passed in), so that both venvs time the very same code.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
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


async def events_call(client: Any, messages: list[Json]) -> AsyncIterator[str | Any]:
    """One streamed call the cheapest way the SDK offers, the very calls agno-nb's ``Claude``
    makes: ``messages.with_streaming_response.create(stream=True)`` read through
    ``AsyncStream.raw_events`` (each event's JSON as a dict, no typed event models). Yields
    each text delta, then the message (content blocks as dicts, with the tool input parsed
    from its ``input_json_delta`` pieces, and ``stop_reason``)."""
    from anthropic import AsyncStream

    blocks: list[Json] = []
    pieces: dict[int, list[str]] = {}
    stop_reason = None
    create = client.messages.with_streaming_response.create
    async with create(**_params(messages), stream=True) as response:
        async for sse in AsyncStream.raw_events(response.http_response):
            if sse.event is None or sse.event == "ping" or not sse.data:
                continue
            event = json.loads(sse.data)
            kind = event["type"]
            if kind == "content_block_delta":
                delta = event["delta"]
                if delta["type"] == "text_delta":
                    blocks[event["index"]]["text"] += delta["text"]
                    yield delta["text"]
                elif delta["type"] == "input_json_delta":
                    pieces[event["index"]].append(delta["partial_json"])
            elif kind == "content_block_start":
                blocks.append(event["content_block"])
                pieces[event["index"]] = []
            elif kind == "message_delta":
                stop_reason = event["delta"]["stop_reason"]
            elif kind == "error":
                raise RuntimeError(sse.data)
    for index, block in enumerate(blocks):
        if block["type"] == "tool_use":
            block["input"] = json.loads("".join(pieces[index]) or "{}")
    yield SimpleNamespace(content=[SimpleNamespace(**b) for b in blocks], stop_reason=stop_reason)


async def raw_events(client: Any) -> str:
    """The scenario through ``events_call``: what streaming with the SDK costs at least."""
    messages: list[Json] = [{"role": "user", "content": PROMPT}]
    final: Any = None
    for _ in range(2):
        async for item in events_call(client, messages):
            final = item
        if final.stop_reason != "tool_use":
            break
        messages = _follow_up(messages, final)
    return str(final.content[0].text)


def raw_sync_create(client: Any) -> str:
    messages: list[Json] = [{"role": "user", "content": PROMPT}]
    first = client.messages.create(**_params(messages))
    final = client.messages.create(**_params(_follow_up(messages, first)))
    return str(final.content[0].text)
