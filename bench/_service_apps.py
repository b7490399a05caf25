"""The three servers of the ``service`` section, each an ASGI ``app`` for uvicorn.

* ``nb``: agno-nb's service (``create_app``) around the scenario's agent, with a DuckDB
  store, tracing on and an API key: as ``agno-nb export`` ships it.
* ``floor``: a bare FastAPI app making the same two SDK calls as agno-nb (streamed the
  cheapest way, raw events: ``bench._raw.events_call``) and streaming the text as SSE: what
  any service built on the SDK pays. ``floor_aiohttp``: the same with the SDK's aiohttp
  transport, which agno-nb's service uses (``served_clients``).

``python -m uvicorn bench._service_apps:nb`` (or ``:floor``, ``:floor_aiohttp``), with
``ANTHROPIC_BASE_URL`` at the fake server; ``BENCH_DB`` names the store. Agno's AgentOS is
in ``_agentos_app``.
"""

import json
import os
from collections.abc import AsyncIterator
from typing import Any

from bench._scenario import API_KEY, INSTRUCTIONS, MAX_TOKENS, MODEL_ID, get_weather

BENCH_KEY = "bench-service-key-0123456789"


def _nb() -> Any:
    from agno_nb import Agent, Claude
    from agno_nb.runtime import create_app

    agent = Agent(
        "bench",
        model=Claude(MODEL_ID, api_key=API_KEY, max_tokens=MAX_TOKENS, max_retries=0),
        instructions=INSTRUCTIONS,
        tools=[get_weather],
    )
    return create_app([agent], db=os.environ["BENCH_DB"], auth={BENCH_KEY: "bench"}, tune_gc=True)


def _floor(aiohttp: bool = False) -> Any:
    from anthropic import AsyncAnthropic, DefaultAioHttpClient
    from fastapi import FastAPI, Request
    from fastapi.responses import StreamingResponse

    from bench._raw import _follow_up, events_call

    app = FastAPI()
    http_client = DefaultAioHttpClient() if aiohttp else None
    client = AsyncAnthropic(api_key=API_KEY, max_retries=0, http_client=http_client)

    async def events(prompt: str) -> AsyncIterator[bytes]:
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        final: Any = None
        for _ in range(2):
            async for item in events_call(client, messages):
                if isinstance(item, str):
                    data = json.dumps({"event": "RunContent", "content": item})
                    yield f"event: RunContent\ndata: {data}\n\n".encode()
                else:
                    final = item
            if final.stop_reason != "tool_use":
                break
            messages = _follow_up(messages, final)
        done = json.dumps({"event": "RunCompleted", "content": final.content[0].text})
        yield f"event: RunCompleted\ndata: {done}\n\n".encode()

    @app.post("/agents/bench/runs")
    async def run(request: Request) -> StreamingResponse:
        form = await request.form()
        return StreamingResponse(events(str(form["message"])), media_type="text/event-stream")

    return app


def __getattr__(name: str) -> Any:  # uvicorn imports bench._service_apps:nb or :floor
    if name == "nb":
        return _nb()
    if name == "floor":
        return _floor()
    if name == "floor_aiohttp":
        return _floor(aiohttp=True)
    raise AttributeError(name)
