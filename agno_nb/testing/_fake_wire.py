"""The fake's answers on the wire: a turn as ``Message`` JSON, as the Server-Sent Events
that stream it, and as an Anthropic error body.

``message_json`` is the complete ``Message`` for a successful turn (text, then one
``tool_use`` block per call; usage from the turn, else estimated at four characters a
token). ``stream_events`` is the event sequence the Messages API streams for it:
``message_start``, ``ping``, per block ``content_block_start``, deltas (text a few words
at a time, tool input as ``input_json_delta`` pieces) and ``content_block_stop``, then
``message_delta`` and ``message_stop``. ``sse_stream`` sends those events with the turn's
pacing and faults: an ``error`` event after ``error_after`` events, a dropped connection
(``TruncatedStream``) after ``truncate_after``, ``chunk_delay`` between events.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio

from agno_nb.testing._fake_script import RecordedRequest, Turn

__all__ = [
    "FAKE_MODEL", "Event", "TruncatedStream", "error_body", "message_json", "new_id",
    "sse_stream", "stream_events",
]  # fmt: skip

Event = tuple[str, dict[str, Any]]
FAKE_MODEL = "claude-fake-1"


class TruncatedStream(Exception):
    """Raised inside a streaming response to drop the connection mid-stream."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _tokens(text: str) -> int:
    """A rough token count: four characters a token, at least one."""
    return max(1, len(text) // 4)


def _word_chunks(text: str, words: int = 3) -> list[str]:
    """Split ``text`` into pieces of a few words each, keeping all whitespace."""
    tokens = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def _json_pieces(text: str, pieces: int = 3) -> list[str]:
    """JSON text as ``input_json_delta`` pieces, the first one empty."""
    size = max(1, -(-len(text) // pieces))
    return [""] + [text[i : i + size] for i in range(0, len(text), size)]


def _usage(turn: Turn, request: RecordedRequest, output_text: str) -> dict[str, int]:
    """Usage for a reply: the turn's overrides, else estimates from the lengths."""
    prompt = json.dumps([request.messages, request.system, request.tools])
    return {
        "input_tokens": _tokens(prompt) if turn.input_tokens is None else turn.input_tokens,
        "output_tokens": _tokens(output_text) if turn.output_tokens is None else turn.output_tokens,
        "cache_creation_input_tokens": turn.cache_creation_input_tokens,
        "cache_read_input_tokens": turn.cache_read_input_tokens,
    }


def message_json(turn: Turn, request: RecordedRequest) -> dict[str, Any]:
    """The complete ``Message`` JSON for a successful turn."""
    blocks: list[dict[str, Any]] = []
    if turn.text_value:
        blocks.append({"type": "text", "text": turn.text_value})
    for call in turn.calls:
        tool_id = call.id or new_id("toolu")
        blocks.append({"type": "tool_use", "id": tool_id, "name": call.name, "input": call.input})
    output = turn.text_value + "".join(json.dumps(call.input) for call in turn.calls)
    return {
        "id": new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": turn.model or request.model or FAKE_MODEL,
        "content": blocks,
        "stop_reason": turn.stop_reason or ("tool_use" if turn.calls else "end_turn"),
        "stop_sequence": turn.stop_sequence,
        "usage": _usage(turn, request, output),
    }


def _event(name: str, **data: Any) -> Event:
    return name, {"type": name, **data}


def _block_events(index: int, block: dict[str, Any], turn: Turn) -> list[Event]:
    """``content_block_start``, deltas and ``content_block_stop`` for one block."""
    start: dict[str, Any]
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        texts = _word_chunks(turn.reply) if isinstance(turn.reply, str) else list(turn.reply)
        deltas = [{"type": "text_delta", "text": text} for text in texts]
    else:
        start = {**block, "input": {}}
        call = turn.calls[index - (1 if turn.text_value else 0)]
        raw = call.raw_input if call.raw_input is not None else json.dumps(block["input"])
        pieces = _json_pieces(raw)
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
    events = [_event("content_block_start", index=index, content_block=start)]
    events += [_event("content_block_delta", index=index, delta=delta) for delta in deltas]
    events.append(_event("content_block_stop", index=index))
    return events


def stream_events(message: dict[str, Any], turn: Turn) -> list[Event]:
    """The full SSE event sequence that streams ``message``."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    events = [_event("message_start", message=start), _event("ping")]
    for index, block in enumerate(message["content"]):
        events += _block_events(index, block, turn)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    events.append(_event("message_delta", delta=delta, usage=usage))
    events.append(_event("message_stop"))
    return events


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


async def sse_stream(events: list[Event], turn: Turn) -> AsyncIterator[bytes]:
    """Send ``events`` with the turn's pacing and faults."""
    for sent, (name, data) in enumerate(events):
        if sent == turn.error_after:
            message = turn.error_message or "Overloaded"
            yield _sse("error", error_body(turn.error_type or "overloaded_error", message))
            return
        if sent == turn.truncate_after:
            raise TruncatedStream(f"stream truncated after {sent} events")
        if sent and turn.chunk_delay:
            await anyio.sleep(turn.chunk_delay)
        yield _sse(name, data)
