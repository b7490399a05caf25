"""Moving run events from the agent to a ``RunView``, in or after a cell.

Every run (first run and continuation alike) executes on agno-nb's background event loop
(``agno_nb._portal``), so tools, MCP sessions and SDK clients always live on one loop. Its
events cross to the kernel's thread through a queue, and one drive loop (``_drive``)
renders them: it waits for the next event at most until the view's next throttled update
is due, so updates still go out while the model is quiet. Only the wait differs:

* ``drive_sync``: the ``%agent`` cell blocks on a thread-safe queue; Ctrl-C cancels the run
  (the view then ends ``cancelled`` and the ``KeyboardInterrupt`` goes on to the caller).
* ``drive_async``: a continuation, a task on the kernel's loop, awaits an asyncio queue;
  the kernel stays free and the task renders between other cells' work.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from agno_nb._portal import _portal

if TYPE_CHECKING:
    from agno_nb import events as ev
    from agno_nb.jupyter.display import RunView
    from agno_nb.run import RunOutput

__all__ = ["drive_async", "drive_sync"]

Events = Callable[[], AsyncIterator["ev.RunEvent"]]
_DONE = object()
_QUIET = object()  # nothing came within the wait
_TICK = 0.25  # longest wait on the queue, so Ctrl-C and due flushes are never late
_WIND_DOWN = 3.0  # longest wait for an interrupted run to end (and be stored cancelled)


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


async def _produce(events: Events, put: Callable[[Any], object]) -> None:
    from agno_nb.jupyter._warm import ready

    try:
        await ready()  # the background imports of a fresh kernel, if still under way
        async for event in events():
            put(event)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # handed to the consumer, which raises it
        put(_Failed(exc))
    finally:
        put(_DONE)


def _apply(view: RunView, item: Any) -> bool:
    """Give ``item`` to the view; False once the run has ended."""
    if item is _DONE:
        return False
    if isinstance(item, _Failed):
        raise item.error
    view.handle(item)
    return True


async def _drive(
    events: Events,
    view: RunView,
    put: Callable[[Any], object],
    get: Callable[[float], Awaitable[Any]],
) -> RunOutput | None:
    """Run ``events()`` on the background loop, which ``put``s each item; render what
    ``get(timeout)`` returns (``_QUIET`` when nothing came within ``timeout``)."""
    future = asyncio.run_coroutine_threadsafe(_produce(events, put), _portal())
    try:
        while True:
            due = view.due()
            item = await get(_TICK if due is None else min(due, _TICK))
            if item is _QUIET:
                view.tick()  # progress lines, then the due flush
            elif not _apply(view, item):
                break
    except KeyboardInterrupt:  # Ctrl-C, the stop button: cancel, show it, re-raise
        future.cancel()
        await _wind_down(view, get)
        raise
    except BaseException:
        future.cancel()
        raise
    finally:
        view.flush(final=True)
    return view.run


async def _wind_down(view: RunView, get: Callable[[float], Awaitable[Any]]) -> None:
    """After a cancel: render what was still queued until the run has ended (it is then
    stored as cancelled), at most ``_WIND_DOWN`` seconds; then end the view cancelled."""
    deadline = time.monotonic() + _WIND_DOWN
    try:
        while (left := deadline - time.monotonic()) > 0:
            item = await get(min(left, _TICK))
            if item is _DONE:
                break
            if item is not _QUIET and not isinstance(item, _Failed):
                view.handle(item)
    except KeyboardInterrupt:  # a second interrupt: stop waiting
        pass
    view.interrupted()


def drive_sync(events: Events, view: RunView) -> RunOutput | None:
    """Run ``events()`` on the background loop and render it here, blocking."""
    items: queue.SimpleQueue[Any] = queue.SimpleQueue()

    async def get(timeout: float) -> Any:  # blocks this thread: never suspends
        try:
            return items.get(timeout=timeout)
        except queue.Empty:
            return _QUIET

    drive = _drive(events, view, items.put, get)
    try:
        drive.send(None)  # runs to the end, as nothing in it suspends
    except StopIteration as done:
        return cast("RunOutput | None", done.value)
    drive.close()  # pragma: no cover - only if a change made it await the loop
    raise AssertionError("drive_sync's drive loop suspended")  # pragma: no cover


async def drive_async(events: Events, view: RunView) -> RunOutput | None:
    """Run ``events()`` on the background loop and render it from this loop's task."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Any] = asyncio.Queue()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(items.put_nowait, item)

    async def get(timeout: float) -> Any:
        try:
            return await asyncio.wait_for(items.get(), timeout)
        except TimeoutError:
            return _QUIET

    return await _drive(events, view, put, get)
