"""Run events over HTTP: Server-Sent Events (``event: Name`` + ``data: json``) or the final
run as JSON.

The first event is pulled before the response starts, so that what fails before a run
begins (an unknown or foreign run, a session of another user, a run that is not paused)
becomes a proper HTTP status rather than an error inside a 200 stream. After that, every
event of the run goes out as it happens, in the order of ``agno_nb.events``, each data
line being ``event.to_dict()`` completed with Agno's field names (``_agentos``). A client
that disconnects cancels the run, which is stored as ``cancelled``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agno_nb import events as ev
from agno_nb.runtime._agentos import event_dict, run_dict

if TYPE_CHECKING:
    from starlette.responses import Response

    from agno_nb.run import RunOutput

__all__ = ["collect", "encode", "json_response", "stream_response"]

_FINAL = (ev.RunCompleted, ev.RunPaused, ev.RunError)
_AGNO_NB_ONLY = (ev.ApprovalRequested, ev.ToolCallProgress)
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def encode(event: ev.RunEvent, agent_name: str) -> bytes:
    """One SSE message for ``event``."""
    data = event_dict(event.to_dict(), agent_name, int(time.time()))
    return b"event: " + event.event.encode() + b"\ndata: " + _dumps(data) + b"\n\n"


async def _frames(
    first: ev.RunEvent, events: AsyncIterator[ev.RunEvent], agent_name: str, agentos: bool
) -> AsyncIterator[bytes]:
    """The SSE messages. The run goes on in a task of its own that queues its events; each
    write takes every event queued by then, so events that come microseconds apart (a
    model turn ending, a tool starting and ending) cost one socket write, and none waits
    for another. Closing this generator (the client left) cancels the run."""
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    put = queue.put_nowait

    async def pump() -> None:
        try:
            async for event in events:
                if not (agentos and isinstance(event, _AGNO_NB_ONLY)):
                    put(encode(event, agent_name))
        except Exception as exc:  # a bug below the run loop: end the stream with it
            put(exc)
        finally:
            put(None)

    task = asyncio.ensure_future(pump())
    try:
        yield encode(first, agent_name)
        done = False
        while not done:
            chunks = [await queue.get()]
            while not queue.empty():
                chunks.append(queue.get_nowait())
            if chunks[-1] is None:
                done = True
                chunks.pop()
            for chunk in chunks:
                if isinstance(chunk, BaseException):
                    raise chunk
            if chunks:
                yield b"".join(chunks)  # type: ignore[arg-type]
    finally:  # the task owns the run's generator: cancelling it ends the run (cancelled)
        if not task.done():
            task.cancel()


async def start(events: AsyncIterator[ev.RunEvent]) -> ev.RunEvent:
    """The first event; errors raised before the run starts propagate (as HTTP errors)."""
    try:
        return await anext(events)
    except BaseException:
        await events.aclose()  # type: ignore[attr-defined]
        raise


async def stream_response(
    events: AsyncIterator[ev.RunEvent], agent_name: str, *, agentos: bool = False
) -> Response:
    """SSE of the run; ``agentos``: only the events Agno's clients know."""
    from starlette.responses import StreamingResponse

    first = await start(events)
    frames = _frames(first, events, agent_name, agentos)
    return StreamingResponse(frames, media_type="text/event-stream", headers=_HEADERS)


async def collect(events: AsyncIterator[ev.RunEvent]) -> RunOutput:
    """Consume the events; the run as it ended (completed, paused or failed)."""
    final: ev.RunEvent = await start(events)
    async for event in events:
        final = event
    if not isinstance(final, _FINAL):  # pragma: no cover - the loop always ends with one
        raise RuntimeError("the run ended without a final event")
    return final.run


def json_response(data: Any, status_code: int = 200) -> Response:
    """JSON without a response-model round trip (the hot paths)."""
    from starlette.responses import Response

    return Response(_dumps(data), status_code=status_code, media_type="application/json")


def run_json(run: RunOutput) -> Response:
    return json_response(run_dict(run))
