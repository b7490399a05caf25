"""``Claude``: Anthropic models through the official ``anthropic`` SDK (2.x).

Any server that speaks the Messages API works through ``base_url`` (a local Ollama,
llama.cpp's ``llama-server``, a LiteLLM proxy). Answers always stream
(``messages.stream``); tool input is assembled from ``input_json_delta`` pieces by the SDK.

SDK clients are shared: one ``AsyncAnthropic`` per event loop and configuration, so a new
agent per run (a re-run cell, an agent per request) costs no new client or SSL context.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agno_nb.exceptions import (
    MissingAPIKeyError,
    ModelAPIError,
    ModelConnectionError,
    ModelTimeoutError,
)
from agno_nb.messages import Message, Part, TextPart, ToolCallPart, Usage
from agno_nb.models import Model, ModelRequest, ModelResponse, TextDelta

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

__all__ = ["Claude"]

_ClientKey = tuple[str | None, str | None, float, int, tuple[tuple[str, str], ...]]
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, AsyncAnthropic]]
_clients = weakref.WeakKeyDictionary()


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
        per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
        client = per_loop.get(key)
        if client is None:
            from anthropic import AsyncAnthropic

            client = per_loop[key] = AsyncAnthropic(
                api_key=api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                default_headers=self.default_headers or None,
            )
        return client

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
        try:
            async with client.messages.stream(**self._params(request)) as stream:
                async for event in stream:
                    if event.type == "text":
                        yield TextDelta(event.text)
                message = await stream.get_final_message()
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
        yield _to_response(message)


def _api_error(model_id: str, exc: Any) -> ModelAPIError:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    error_type = error.get("type", "") if isinstance(error, dict) else ""
    detail = error.get("message", str(exc)) if isinstance(error, dict) else str(exc)
    return ModelAPIError(
        f"{model_id}: the API answered {exc.status_code} {error_type}: {detail}".replace(
            " : ", ": "
        ),
        status_code=exc.status_code,
        error_type=error_type,
    )


def _to_response(message: Any) -> ModelResponse:
    parts: list[Part] = []
    for block in message.content:
        if block.type == "text":
            parts.append(TextPart(block.text))
        elif block.type == "tool_use":
            args = block.input if isinstance(block.input, dict) else {}
            parts.append(ToolCallPart(block.id, block.name, args))
    u = message.usage
    usage = Usage(
        input_tokens=u.input_tokens or 0,
        output_tokens=u.output_tokens or 0,
        cache_read_tokens=u.cache_read_input_tokens or 0,
        cache_write_tokens=u.cache_creation_input_tokens or 0,
        requests=1,
    )
    return ModelResponse(
        parts=parts,
        usage=usage,
        stop_reason=message.stop_reason,
        model_name=message.model,
        response_id=message.id,
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
