"""The Messages API request: agno-nb's messages and tools as the JSON Claude is sent.

``message_params`` builds the keyword arguments of ``messages.create`` for one
``ModelRequest``; ``to_anthropic_messages`` turns the conversation into the API's
``messages`` (consecutive turns of one role merged, empty text left out), each part a
content block: text, ``tool_use``, or ``tool_result``. A tool result is sent as a string
(JSON for anything but a string), or, for an MCP result (``{"type": "mcp_result", ...}``,
see docs/mcp.md), as content blocks: text and images as they are, resource links and
embedded resources as text (an embedded image as an image).
Plain data in, plain data out: no SDK is imported here.
"""

from __future__ import annotations

import json
from typing import Any

from agno_nb.messages import Message, Part, TextPart, ToolCallPart
from agno_nb.models.base import ModelRequest

__all__ = ["message_params", "to_anthropic_messages"]


def message_params(
    request: ModelRequest, *, model: str, max_tokens: int, temperature: float | None
) -> dict[str, Any]:
    """The arguments of ``messages.create`` for ``request`` (``stream`` aside)."""
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": to_anthropic_messages(request.messages),
    }
    if request.system:
        params["system"] = request.system
    if request.tools:
        params["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in request.tools
        ]
    if temperature is not None:
        params["temperature"] = temperature
    return params


def to_anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages API ``messages``; consecutive turns of one role are merged."""
    out: list[dict[str, Any]] = []
    for message in messages:
        blocks = [_content_block(p) for p in message.parts if not _is_empty_text(p)]
        if not blocks:
            continue
        if out and out[-1]["role"] == message.role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": message.role, "content": blocks})
    return out


def _is_empty_text(part: Part) -> bool:
    return isinstance(part, TextPart) and not part.text


def _content_block(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.args}
    return {
        "type": "tool_result",
        "tool_use_id": part.tool_call_id,
        "content": _tool_result_content(part.content),
        "is_error": part.is_error,
    }


_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def _is_mcp_result(content: Any) -> bool:
    return isinstance(content, dict) and content.get("type") == "mcp_result"


def _tool_result_content(content: Any) -> str | list[dict[str, Any]]:
    """A tool result as Claude gets it: a string, or content blocks for an MCP result
    (``{"type": "mcp_result", ...}``, see docs/mcp.md) with images or several parts."""
    note = None
    edited = isinstance(content, dict) and set(content) == {"result", "note"}
    if edited and _is_mcp_result(content["result"]):  # approved with edited arguments
        content, note = content["result"], content["note"]
    if not _is_mcp_result(content):
        return content if isinstance(content, str) else json.dumps(content, default=str)
    blocks = [_mcp_block(b) for b in content.get("content") or []]
    structured = content.get("structured_content")
    if structured is not None and not any(_is_json_of(b, structured) for b in blocks):
        blocks.append({"type": "text", "text": json.dumps(structured, default=str)})
    if note:
        blocks.append({"type": "text", "text": note})
    blocks = [b for b in blocks if b["type"] != "text" or b["text"]]
    if not blocks:
        return ""
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        text: str = blocks[0]["text"]
        return text
    return blocks


def _mcp_block(block: dict[str, Any]) -> dict[str, Any]:
    """One stored MCP content block as a Claude block: text and images as they are,
    resource links and embedded resources as text."""
    kind = block.get("type")
    source = block.get("source") or {}
    media_type = source.get("media_type") or block.get("mime_type") or "unknown type"
    if kind == "text":
        return {"type": "text", "text": str(block.get("text", ""))}
    if kind == "image" and media_type in _IMAGE_TYPES:
        return {"type": "image", "source": source}
    if kind == "resource_link":
        text = f"Resource link: {block.get('name')} <{block.get('uri')}> ({media_type})"
        if block.get("description"):
            text += f": {block['description']}"
        return {"type": "text", "text": text}
    if kind == "resource" and block.get("text") is not None:
        return {"type": "text", "text": f"Resource <{block.get('uri')}>:\n{block['text']}"}
    if kind == "resource" and media_type in _IMAGE_TYPES:
        data = {"type": "base64", "media_type": media_type, "data": block.get("blob", "")}
        return {"type": "image", "source": data}
    what = f"{kind} <{block['uri']}>" if block.get("uri") else str(kind)
    return {"type": "text", "text": f"[{what} ({media_type}) is not shown to the model]"}


def _is_json_of(block: dict[str, Any], value: Any) -> bool:
    """Whether a text block holds ``value`` as JSON (servers send both forms)."""
    if block["type"] != "text":
        return False
    try:
        return bool(json.loads(block["text"]) == value)
    except ValueError:
        return False
