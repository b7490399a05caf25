"""Run coroutines from synchronous code, inside or outside a running event loop.

Jupyter cells run inside the kernel's event loop, where ``asyncio.run()`` fails. A
synchronous call from a thread with no running loop uses a private loop kept for that
thread (no thread hop); from inside a running loop it hands the coroutine to one
long-lived background loop thread and waits. Both loops live as long as the process, so
HTTP connections and SDK clients made on them are reused across runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["iterate_sync", "run_sync"]

T = TypeVar("T")

_local = threading.local()
_portal_lock = threading.Lock()
_portal_loop: asyncio.AbstractEventLoop | None = None


class _ThreadLoop:
    """A thread's private loop, closed when the thread ends (its locals are dropped)."""

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()


def _thread_loop() -> asyncio.AbstractEventLoop:
    owner: _ThreadLoop | None = getattr(_local, "owner", None)
    if owner is None or owner.loop.is_closed():
        owner = _local.owner = _ThreadLoop()
    return owner.loop


def _portal() -> asyncio.AbstractEventLoop:
    global _portal_loop
    with _portal_lock:
        if _portal_loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="agno-nb-portal", daemon=True)
            thread.start()
            _portal_loop = loop
        return _portal_loop


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, from any synchronous code."""
    if not _in_running_loop():
        return _thread_loop().run_until_complete(coro)
    future = asyncio.run_coroutine_threadsafe(coro, _portal())
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


def iterate_sync(agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from synchronous code, one item at a time."""

    async def step() -> tuple[bool, T | None]:
        try:
            return True, await anext(agen)
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            ok, item = run_sync(step())
            if not ok:
                return
            yield item  # type: ignore[misc]
    finally:  # a consumer that stops early: close the run now (it ends cancelled)
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            run_sync(aclose())
