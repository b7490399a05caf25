"""``Claude``: Anthropic models through the official ``anthropic`` SDK (2.x).

Any server that speaks the Messages API works through ``base_url`` (a local Ollama,
llama.cpp's ``llama-server``, a LiteLLM proxy). Answers always stream, read the cheapest way
the SDK offers: ``messages.with_streaming_response.create(stream=True)`` gives the HTTP
response (after the SDK's retries and status errors), ``AsyncStream.raw_events`` its
Server-Sent Events, and each event's JSON is assembled here as a dict (``_Assembly``): text
from ``text_delta``, tool input from the ``input_json_delta`` pieces, parsed once when its
block stops. ``messages.create(stream=True)`` would build a typed pydantic model per event
(about 0.5 ms of CPU per served run of two calls on this 2-core machine, an eighth of the
run), and ``messages.stream`` rebuilds a snapshot of the message on every event on top.
An ``error`` event mid-answer is a ``ModelAPIError`` with its ``error_type``; an event
that is not the API's JSON is a ``ModelError`` naming it.

SDK clients are shared: one ``AsyncAnthropic`` per event loop and configuration, so a new
agent per run (a re-run cell, an agent per request) costs no new client or SSL context.
A server that owns its loop wraps its life in ``served_clients()`` (``create_app`` does):
its clients then use the SDK's aiohttp transport (``anthropic[aiohttp]``, in the
``service`` extra), which under 20 concurrent runs costs a third of the CPU of the default
httpx2 pool (whose every request probes each idle connection), and they are closed when the
server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from agno_nb.exceptions import (
    MissingAPIKeyError,
    ModelAPIError,
    ModelConnectionError,
    ModelError,
    ModelTimeoutError,
)
from agno_nb.messages import Message, Part, TextPart, ToolCallPart, Usage
from agno_nb.models import Model, ModelRequest, ModelResponse, TextDelta

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

__all__ = ["Claude", "served_clients"]

_ClientKey = tuple[str | None, str | None, float, int, tuple[tuple[str, str], ...]]
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, AsyncAnthropic]]
_clients = weakref.WeakKeyDictionary()
_aiohttp_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


@asynccontextmanager
async def served_clients() -> AsyncIterator[None]:
    """For a server's lifetime on the running loop: ``Claude``'s SDK clients made on this
    loop use the SDK's aiohttp transport (when ``aiohttp`` is installed), and every client
    of the loop is closed on exit."""
    loop = asyncio.get_running_loop()
    if importlib.util.find_spec("aiohttp") is not None:
        _aiohttp_loops.add(loop)
    try:
        yield
    finally:
        _aiohttp_loops.discard(loop)
        for client in _clients.pop(loop, {}).values():
            await client.close()


class Claude(Model):
    """An Anthropic Claude model (or any Anthropic-compatible endpoint).

    ``api_key`` and ``base_url`` default to the SDK's environment variables
    (``ANTHROPIC_API_KEY`` or ``ANTHROPIC_AUTH_TOKEN``, ``ANTHROPIC_BASE_URL``).
    ``timeout`` (seconds) and ``max_retries`` are passed to the SDK; 429, 500 and 529
    answers are retried by the SDK.
    """

    provider = "anthropic"

    def __init__(
        self,
        id: str = "claude-sonnet-4-6",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        default_headers: dict[str, str] | None = None,
    ) -> None:
        self.id = id
        self._api_key = api_key
        self.base_url = base_url
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self.max_retries = max_retries
        self.default_headers = dict(default_headers or {})

    def __repr__(self) -> str:
        url = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"Claude(id={self.id!r}{url})"

    def _client(self) -> AsyncAnthropic:
        api_key = self._api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not api_key and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
            raise MissingAPIKeyError(
                "No Anthropic API key is configured: set ANTHROPIC_API_KEY (or "
                "ANTHROPIC_AUTH_TOKEN), or pass Claude(api_key=...). For a local server "
                "(Ollama, LiteLLM) pass Claude(base_url=..., api_key='any-value')."
            )
        key: _ClientKey = (
            api_key,
            self.base_url,
            self.timeout,
            self.max_retries,
            tuple(sorted(self.default_headers.items())),
        )
        loop = asyncio.get_running_loop()
        per_loop = _clients.setdefault(loop, {})
        client = per_loop.get(key)
        if client is None:
            import anthropic

            client = per_loop[key] = anthropic.AsyncAnthropic(
                api_key=api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                default_headers=self.default_headers or None,
                http_client=anthropic.DefaultAioHttpClient() if loop in _aiohttp_loops else None,
            )
        return client

    async def warm_up(self) -> None:
        """Import the SDK and build this loop's client now (not on the first request)."""
        with contextlib.suppress(MissingAPIKeyError):
            self._client()

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.id,
            "max_tokens": self.max_tokens,
            "messages": to_anthropic_messages(request.messages),
        }
        if request.system:
            params["system"] = request.system
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema}
                for t in request.tools
            ]
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        import anthropic
        import httpx2

        client = self._client()
        answer = _Assembly(self.id)
        create = client.messages.with_streaming_response.create
        try:
            async with create(**self._params(request), stream=True) as raw:
                async for sse in anthropic.AsyncStream.raw_events(raw.http_response):
                    if sse.event == "error":
                        raise _stream_error(self.id, sse.data)
                    if sse.event is None or sse.event == "ping" or not sse.data:
                        continue  # as the SDK's own stream does
                    try:
                        text = answer.add(json.loads(sse.data))
                    except (ValueError, LookupError, TypeError, AttributeError) as exc:
                        raise ModelError(
                            f"{self.id}: the stream sent a malformed {sse.event!r} event "
                            f"({exc!r}): {sse.data[:200]}"
                        ) from exc
                    if text:
                        yield TextDelta(text)
        except anthropic.APITimeoutError as exc:
            raise ModelTimeoutError(
                f"{self.id}: no answer within {self.timeout:g} s ({exc})"
            ) from exc
        except anthropic.APIStatusError as exc:
            raise _api_error(self.id, exc) from exc
        except anthropic.APIConnectionError as exc:
            raise ModelConnectionError(f"{self.id}: cannot reach the API ({exc})") from exc
        except (anthropic.APIError, httpx2.HTTPError) as exc:  # e.g. a stream cut short
            raise ModelConnectionError(f"{self.id}: the answer broke off ({exc!r})") from exc
        yield answer.response()


class _Assembly:
    """One streamed message, put together from the Messages API's stream events."""

    __slots__ = ("blocks", "buffers", "done", "invalid", "model", "model_id", "response_id",
                 "stop_reason", "usage")  # fmt: skip

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.blocks: dict[int, list[Any]] = {}  # index -> ["text", text] | ["tool", id, name]
        self.buffers: dict[int, list[str]] = {}  # index -> the tool input's JSON pieces
        self.usage: dict[str, int] = {}
        self.response_id: str | None = None
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
            self.response_id, self.model = message.get("id"), message.get("model")
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
            response_id=self.response_id,
        )


def _error_fields(body: Any) -> tuple[str, str | None]:
    """The ``type`` and ``message`` of an API error body (``{"error": {...}}``)."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", None
    message = error.get("message")
    return str(error.get("type", "")), None if message is None else str(message)


def _stream_error(model_id: str, data: str) -> ModelAPIError:
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


def _api_error(model_id: str, exc: Any) -> ModelAPIError:
    error_type, detail = _error_fields(exc.body)
    return ModelAPIError(
        f"{model_id}: the API answered {exc.status_code} {error_type}: "
        f"{str(exc) if detail is None else detail}".replace(" : ", ": "),
        status_code=exc.status_code,
        error_type=error_type,
    )


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
    import json

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
    import json

    if block["type"] != "text":
        return False
    try:
        return bool(json.loads(block["text"]) == value)
    except ValueError:
        return False


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
