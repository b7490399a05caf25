"""``Claude``: Anthropic models through the official ``anthropic`` SDK (2.x).

Any server that speaks the Messages API works through ``base_url`` (a local Ollama,
llama.cpp's ``llama-server``, a LiteLLM proxy). The request is built by
``_anthropic_messages``. Answers always stream, read the cheapest way the SDK offers:
``messages.with_streaming_response.create(stream=True)`` gives the HTTP response (after the
SDK's retries and status errors), ``AsyncStream.raw_events`` its Server-Sent Events, and
each event's JSON is put together as a dict (``_anthropic_stream.Assembly``).
``messages.create(stream=True)`` would build a typed pydantic model per event (a
noticeable share of a served run's CPU, see bench/RESULTS.md), and ``messages.stream``
rebuilds a snapshot of the message on every event on top.
An ``error`` event mid-answer is a ``ModelAPIError`` with its ``error_type``; an event
that is not the API's JSON is a ``ModelError`` naming it.

SDK clients are shared: one ``AsyncAnthropic`` per event loop and configuration, so a new
agent per run (a re-run cell, an agent per request) costs no new client or SSL context.
A server that owns its loop wraps its life in ``served_clients()`` (``create_app`` does):
its clients then use the SDK's aiohttp transport (``anthropic[aiohttp]``, in the
``service`` extra), which under concurrent runs costs much less CPU than the default
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
    ConfigError,
    MissingAPIKeyError,
    ModelConnectionError,
    ModelError,
    ModelTimeoutError,
)
from agno_nb.models._anthropic_messages import message_params
from agno_nb.models._anthropic_stream import Assembly, api_error, stream_error
from agno_nb.models.base import Model, ModelRequest, ModelResponse, TextDelta
from agno_nb.pricing import warn_if_unpriced

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

    ``client`` plugs in an ``anthropic.AsyncAnthropic`` of your own, used as is: its key,
    URL, timeout, retries, headers and HTTP transport apply (no key is needed in the
    environment), and ``api_key`` or ``base_url`` with it is a ``ConfigError``. Its
    transport can keep the model in process, as httpx's ``MockTransport`` does::

        transport = httpx2.ASGITransport(app=FakeAnthropic([...]).app)
        client = AsyncAnthropic(api_key="test", http_client=httpx2.AsyncClient(transport=transport))
        agent = Agent("support", model=Claude(client=client), db=False)

    Claude never closes an injected client; its connections belong to the event loop that
    first uses them.
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
        client: AsyncAnthropic | None = None,
    ) -> None:
        if client is not None and (api_key is not None or base_url is not None):
            raise ConfigError(
                "Claude(client=...) uses the client's own key and URL: give api_key and "
                "base_url to anthropic.AsyncAnthropic(...), not to Claude"
            )
        self.id = id
        self.client = client
        self._api_key = api_key if client is None else client.api_key
        self.base_url = base_url
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self.max_retries = max_retries
        self.default_headers = dict(default_headers or {})
        if base_url is None and client is None:  # Anthropic's API: a bill, so a price
            warn_if_unpriced(id)

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if self._api_key else ()

    def __repr__(self) -> str:
        url = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"Claude(id={self.id!r}{url})"

    def _client(self) -> AsyncAnthropic:
        if self.client is not None:
            return self.client
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
        return message_params(
            request, model=self.id, max_tokens=self.max_tokens, temperature=self.temperature
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        import anthropic
        import httpx2

        client = self._client()
        answer = Assembly(self.id)
        create = client.messages.with_streaming_response.create
        try:
            async with create(**self._params(request), stream=True) as raw:
                async for sse in anthropic.AsyncStream.raw_events(raw.http_response):
                    if sse.event == "error":
                        raise stream_error(self.id, sse.data)
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
            within = "the client's timeout" if self.client else f"{self.timeout:g} s"
            raise ModelTimeoutError(f"{self.id}: no answer within {within} ({exc})") from exc
        except anthropic.APIStatusError as exc:
            raise api_error(self.id, exc) from exc
        except anthropic.APIConnectionError as exc:
            raise ModelConnectionError(f"{self.id}: cannot reach the API ({exc})") from exc
        except (anthropic.APIError, httpx2.HTTPError) as exc:  # e.g. a stream cut short
            raise ModelConnectionError(f"{self.id}: the answer broke off ({exc!r})") from exc
        yield answer.response()
