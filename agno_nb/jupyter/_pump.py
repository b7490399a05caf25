"""Moving run events from the agent to a ``RunView``, in or after a cell.

Every run (first run and continuation alike) executes on agno-nb's background event loop
(``agno_nb._portal``), so tools, MCP sessions and SDK clients always live on one loop. Its
events cross to the kernel's thread through a queue:

* ``drive_sync``: the ``%agent`` cell waits on a thread-safe queue (with a timeout, so
  throttled updates still go out while the model is quiet); Ctrl-C cancels the run.
* ``drive_async``: a continuation, a task on the kernel's loop, awaits an asyncio queue;
  the kernel stays free and the task renders between other cells' work.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from agno_nb._portal import _portal

if TYPE_CHECKING:
    from agno_nb import events as ev
    from agno_nb.jupyter.display import RunView
    from agno_nb.run import RunOutput

__all__ = ["drive_async", "drive_sync"]

Events = Callable[[], AsyncIterator["ev.RunEvent"]]
_DONE = object()
_TICK = 0.25  # longest wait on the queue, so Ctrl-C and due flushes are never late


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


async def _produce(events: Events, put: Callable[[Any], object]) -> None:
    try:
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


def _wait(view: RunView) -> float:
    due = view.due()
    return _TICK if due is None else min(due, _TICK)


def drive_sync(events: Events, view: RunView) -> RunOutput | None:
    """Run ``events()`` on the background loop and render it here, blocking."""
    items: queue.SimpleQueue[Any] = queue.SimpleQueue()
    future = asyncio.run_coroutine_threadsafe(_produce(events, items.put), _portal())
    try:
        while True:
            try:
                item = items.get(timeout=_wait(view))
            except queue.Empty:
                view.flush()
                continue
            if not _apply(view, item):
                break
    except BaseException:
        future.cancel()
        raise
    finally:
        view.flush(final=True)
    return view.run


async def drive_async(events: Events, view: RunView) -> RunOutput | None:
    """Run ``events()`` on the background loop and render it from this loop's task."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Any] = asyncio.Queue()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(items.put_nowait, item)

    future = asyncio.run_coroutine_threadsafe(_produce(events, put), _portal())
    try:
        while True:
            try:
                item = await asyncio.wait_for(items.get(), _wait(view))
            except TimeoutError:
                view.flush()
                continue
            if not _apply(view, item):
                break
    except BaseException:
        future.cancel()
        raise
    finally:
        view.flush(final=True)
    return view.run
