"""Reading Claude's answer: the Messages API's stream events put together, and its errors.

The SDK hands over the raw Server-Sent Events; each event's JSON is given to an
``Assembly`` as a dict: text from ``text_delta`` (returned at once, for the caller to
stream), tool input from the ``input_json_delta`` pieces, parsed once when its block
stops, usage from ``message_start`` and ``message_delta``. ``response()`` is the
``ModelResponse`` once ``message_stop`` came (else the answer broke off: a
``ModelConnectionError``); tool input that is not JSON is a ``ModelError`` unless the
answer was cut at ``max_tokens``. ``stream_error`` maps an ``error`` event mid-answer and
``api_error`` an error status to a ``ModelAPIError`` with the API's ``error_type``.
"""

from __future__ import annotations

import json
from typing import Any

from agno_nb.exceptions import ModelAPIError, ModelConnectionError, ModelError
from agno_nb.messages import Part, TextPart, ToolCallPart, Usage
from agno_nb.models.base import ModelResponse

__all__ = ["Assembly", "api_error", "stream_error"]


class Assembly:
    """One streamed message, put together from the Messages API's stream events."""

    __slots__ = ("blocks", "buffers", "done", "invalid", "model", "model_id", "stop_reason",
                 "usage")  # fmt: skip

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.blocks: dict[int, list[Any]] = {}  # index -> ["text", text] | ["tool", id, name]
        self.buffers: dict[int, list[str]] = {}  # index -> the tool input's JSON pieces
        self.usage: dict[str, int] = {}
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.invalid: str | None = None
        self.done = False

    def add(self, event: dict[str, Any]) -> str | None:
        """Take one event (its JSON data); the text it adds, if any."""
        kind = event.get("type")
        if kind == "content_block_delta":
            delta, index = event["delta"], event["index"]
            if delta["type"] == "text_delta":
                block = self.blocks.get(index)
                if block is not None and block[0] == "text":
                    block[1] += delta["text"]
                    return str(delta["text"])
            elif delta["type"] == "input_json_delta" and index in self.buffers:
                self.buffers[index].append(delta["partial_json"])
        elif kind == "content_block_start":
            block, index = event["content_block"], event["index"]
            if block["type"] == "text":
                self.blocks[index] = ["text", block["text"]]
                return str(block["text"]) or None
            if block["type"] == "tool_use":
                self.blocks[index] = ["tool", block["id"], block["name"], block.get("input")]
                self.buffers[index] = []
        elif kind == "content_block_stop":
            self._close_tool(event["index"])
        elif kind == "message_start":
            message = event["message"]
            self.model = message.get("model")
            self._add_usage(message.get("usage"))
        elif kind == "message_delta":
            self.stop_reason = event["delta"].get("stop_reason")
            self._add_usage(event.get("usage"))
        elif kind == "message_stop":
            self.done = True
        return None

    def _add_usage(self, usage: dict[str, Any] | None) -> None:
        for field in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                      "cache_creation_input_tokens"):  # fmt: skip
            value = usage.get(field) if usage else None
            if value is not None:  # message_delta repeats only what changed
                self.usage[field] = value

    def _close_tool(self, index: int) -> None:
        pieces = self.buffers.pop(index, None)
        if not pieces:
            return
        block = self.blocks[index]
        text = "".join(pieces)
        try:
            block[3] = json.loads(text)
        except ValueError as exc:  # only a cut-off answer (max_tokens) may end like this
            self.invalid = f"the input of tool call {block[2]!r} is not valid JSON ({exc})"

    def response(self) -> ModelResponse:
        if not self.done:
            raise ModelConnectionError(
                f"{self.model_id}: the answer broke off (the stream ended before message_stop)"
            )
        if self.invalid is not None and self.stop_reason != "max_tokens":
            raise ModelError(f"{self.model_id}: {self.invalid}")
        parts: list[Part] = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            if block[0] == "text":
                parts.append(TextPart(block[1]))
            else:
                args = block[3] if isinstance(block[3], dict) else {}
                parts.append(ToolCallPart(block[1], block[2], args))
        u = self.usage
        usage = Usage(
            input_tokens=u.get("input_tokens") or 0,
            output_tokens=u.get("output_tokens") or 0,
            cache_read_tokens=u.get("cache_read_input_tokens") or 0,
            cache_write_tokens=u.get("cache_creation_input_tokens") or 0,
            requests=1,
        )
        return ModelResponse(
            parts=parts,
            usage=usage,
            stop_reason=self.stop_reason,
            model_name=self.model,
        )


def _error_fields(body: Any) -> tuple[str, str | None]:
    """The ``type`` and ``message`` of an API error body (``{"error": {...}}``)."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", None
    message = error.get("message")
    return str(error.get("type", "")), None if message is None else str(message)


def stream_error(model_id: str, data: str) -> ModelAPIError:
    """The error event of a stream that had begun (``overloaded_error`` mid-answer)."""
    try:
        body = json.loads(data)
    except ValueError:
        body = None
    error_type, detail = _error_fields(body)
    return ModelAPIError(
        f"{model_id}: the API reported {error_type or 'an error'} mid-answer: {detail or data}",
        error_type=error_type,
    )


def api_error(model_id: str, exc: Any) -> ModelAPIError:
    error_type, detail = _error_fields(exc.body)
    return ModelAPIError(
        f"{model_id}: the API answered {exc.status_code} {error_type}: "
        f"{str(exc) if detail is None else detail}".replace(" : ", ": "),
        status_code=exc.status_code,
        error_type=error_type,
    )
