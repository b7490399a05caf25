"""Scripts for :mod:`agno_nb.testing.fake_anthropic`: turns, tool calls, recorded requests,
JSON script files and the demo :func:`default_handler`.

Kept free of heavy imports (no fastapi, uvicorn or httpx2) so it is cheap to import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
"""Anthropic error ``type`` names by HTTP status; any other status maps to ``api_error``."""


def error_type_for(status: int) -> str:
    """Return the Anthropic error type name for an HTTP ``status``."""
    return ERROR_TYPES.get(status, "api_error")


@dataclass(frozen=True)
class ToolCall:
    """One ``tool_use`` block; ``id`` is generated (``toolu_...``) when left ``None``.

    ``raw_input`` is streamed as the ``input_json_delta`` text instead of ``input``'s JSON,
    to play an Anthropic-compatible server that sends broken tool input.
    """

    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    raw_input: str | None = None


@dataclass(frozen=True)
class Turn:
    """What the fake answers to one request.

    ``reply`` is the assistant text: a string is streamed a few words per delta, a sequence
    of strings is streamed as exactly those deltas. ``calls`` are ``tool_use`` blocks sent
    after the text. ``status`` turns the reply into an HTTP error. ``error_after`` and
    ``truncate_after`` (streaming only) count the SSE events sent before the fault:
    ``message_start`` is event 1 and the first ``ping`` event 2.
    """

    reply: str | Sequence[str] = ""
    calls: Sequence[ToolCall] = ()
    stop_reason: str | None = None
    stop_sequence: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    model: str | None = None
    status: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_after: int | None = None
    truncate_after: int | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0

    @classmethod
    def text(cls, reply: str | Sequence[str], **options: Any) -> Turn:
        """A plain text answer; ``options`` are any other :class:`Turn` fields."""
        return cls(reply=reply, **options)

    @classmethod
    def tool_call(
        cls,
        name: str,
        input: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        **options: Any,
    ) -> Turn:
        """A turn that calls one tool (``stop_reason`` ``tool_use``)."""
        return cls(calls=(ToolCall(name, dict(input or {}), id),), **options)

    @classmethod
    def tool_calls(
        cls, calls: Sequence[ToolCall | tuple[str, Mapping[str, Any]]], **options: Any
    ) -> Turn:
        """A turn with several tool calls, given as :class:`ToolCall` or ``(name, input)``."""
        built = tuple(c if isinstance(c, ToolCall) else ToolCall(c[0], dict(c[1])) for c in calls)
        return cls(calls=built, **options)

    @classmethod
    def error(cls, status: int, message: str | None = None, **options: Any) -> Turn:
        """An HTTP error response with the Anthropic error body for ``status``."""
        return cls(status=status, error_message=message, **options)

    @property
    def text_value(self) -> str:
        """The whole reply text."""
        return self.reply if isinstance(self.reply, str) else "".join(self.reply)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        """Build a turn from its JSON form (field names as keys, ``calls`` as objects)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown Turn field(s) {sorted(unknown)}; known: {sorted(known)}")
        values = dict(data)
        values["calls"] = tuple(ToolCall(**call) for call in values.get("calls", ()))
        return cls(**values)


def load_script(path: str | Path) -> list[Turn]:
    """Read a JSON script: ``{"turns": [...]}`` or a bare list of turn objects."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    turns = data.get("turns") if isinstance(data, dict) else data
    if not isinstance(turns, list):
        raise ValueError(f"{path}: expected a list of turns or {{'turns': [...]}}")
    return [Turn.from_dict(turn) for turn in turns]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received; ``body`` is ``{}`` when it was not a JSON object."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The ``messages`` of the request."""
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The ``tools`` offered (empty when none)."""
        return list(self.body.get("tools") or [])

    @property
    def system(self) -> str | list[dict[str, Any]] | None:
        """The ``system`` prompt, as sent (a string or a list of blocks)."""
        system: str | list[dict[str, Any]] | None = self.body.get("system")
        return system

    @property
    def model(self) -> str | None:
        """The requested model."""
        model: str | None = self.body.get("model")
        return model

    @property
    def stream(self) -> bool:
        """Whether the request asked for SSE streaming."""
        return bool(self.body.get("stream", False))


def tool_ids_problem(messages: Sequence[Any]) -> str | None:
    """What the Messages API says of ``tool_use`` ids that repeat in a request, or of a
    ``tool_result`` that answers no ``tool_use`` of the message before it; else None."""
    seen: set[str] = set()
    offered: set[str] = set()
    for i, message in enumerate(messages):
        blocks = message.get("content") if isinstance(message, dict) else None
        blocks = [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []
        for j, block in enumerate(blocks):
            if block.get("type") == "tool_use":
                if block.get("id") in seen:
                    return f"messages.{i}.content.{j}: `tool_use` ids must be unique"
                seen.add(block.get("id"))
            elif block.get("type") == "tool_result" and block.get("tool_use_id") not in offered:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message."
                )
        offered = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    return None


def _text_of(content: Any) -> str:
    """The text of a message's ``content`` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content if isinstance(b, dict)).strip()


def _sample(schema: dict[str, Any]) -> Any:
    """A simple value that fits a JSON schema."""
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        return {name: _sample(prop) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    samples: dict[str, Any] = {"string": "a", "integer": 1, "number": 1.0, "boolean": True}
    return samples.get(str(kind))


def default_handler(request: RecordedRequest) -> Turn:
    """A demo model: summarise tool results, call the first offered tool once, else echo."""
    messages = request.messages
    last = messages[-1].get("content", "") if messages else ""
    blocks = last if isinstance(last, list) else []
    results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
    if results:
        lines = [f"- `{r.get('tool_use_id')}`: {_text_of(r.get('content', ''))}" for r in results]
        return Turn.text("Here is what the tools returned:\n\n" + "\n".join(lines))
    called = any(
        isinstance(b, dict) and b.get("type") == "tool_use"
        for m in messages
        if isinstance(m.get("content"), list)
        for b in m["content"]
    )
    if request.tools and not called:
        tool = request.tools[0]
        args = _sample({"type": "object", **tool.get("input_schema", {})})
        return Turn.tool_call(tool["name"], args, reply=f"Let me call `{tool['name']}`.")
    said = _text_of(last) or "nothing"
    reply = f"**Echo:** you said _{said}_.\n\nI am a *fake* model, streaming in small chunks."
    return Turn.text(reply)
