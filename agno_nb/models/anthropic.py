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
    content = part.content
    if not isinstance(content, str):
        import json

        content = json.dumps(content, default=str)
    return {
        "type": "tool_result",
        "tool_use_id": part.tool_call_id,
        "content": content,
        "is_error": part.is_error,
    }


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
