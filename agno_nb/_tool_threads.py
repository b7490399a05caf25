"""Sync tools run in ``agno-nb-tool`` worker threads, never on the event loop.

A blocking tool (a sync HTTP client, a slow query, ``time.sleep``) then does not stall the
service's other requests or the notebook's kernel. Each call carries the caller's
``contextvars``. At most ``tool_threads()`` sync calls run at once, process-wide: 32 by
default, ``AGNO_NB_TOOL_THREADS`` (read at the first call), or ``set_tool_threads(n)``; a
call beyond that waits for a free thread. Threads are made as needed and reused. They are
daemon threads, so a call abandoned after its timeout (a thread cannot be stopped) never
keeps the process from exiting; it holds its thread, and counts against the bound, until
its function returns. The hop costs about 50-100 µs per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["default_tool_threads", "in_tool_thread", "set_tool_threads", "tool_threads"]

T = TypeVar("T")

DEFAULT_TOOL_THREADS = 32


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class _Pool:
    """At most ``size`` daemon threads running submitted calls, made on demand.

    A call answers straight into the caller's asyncio future (``call_soon_threadsafe``):
    half the cost of ``run_in_executor``'s concurrent future chained to an asyncio one.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0

    def submit(self, loop: asyncio.AbstractEventLoop, call: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, call))
        if not self._idle.acquire(blocking=False):  # no idle thread: make one if allowed
            with self._lock:
                if self._threads < self.size:
                    self._threads += 1
                    name = f"agno-nb-tool-{self._threads}"
                    threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, call = job
            if not future.cancelled():  # cancelled while queued (a timeout): never run
                result: Any = None
                error: BaseException | None = None
                try:
                    result = call()
                except BaseException as exc:
                    error = exc
                with contextlib.suppress(RuntimeError):  # the caller's loop has closed
                    loop.call_soon_threadsafe(_settle, future, result, error)
                del result, error
            del job, future, call
            self._idle.release()

    def stop(self) -> None:
        """End each thread once the calls queued before now are done."""
        for _ in range(self._threads):
            self._jobs.put(None)


_pool_lock = threading.Lock()
_pool: _Pool | None = None
_size: int | None = None


def default_tool_threads() -> int:
    """``AGNO_NB_TOOL_THREADS``, or 32."""
    value = os.environ.get("AGNO_NB_TOOL_THREADS")
    if not value:
        return DEFAULT_TOOL_THREADS
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"AGNO_NB_TOOL_THREADS must be a whole number >= 1, not {value!r}")
    return size


def tool_threads() -> int:
    """How many sync tool calls may run at once in this process."""
    return _size if _size is not None else default_tool_threads()


def set_tool_threads(size: int) -> None:
    """Let at most ``size`` sync tool calls run at once in this process (default 32).

    Calls already running finish on their threads; new calls use the new bound.
    """
    global _pool, _size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"the tool thread bound must be a whole number at least 1, not {size!r}")
    with _pool_lock:
        old, _pool, _size = _pool, None, size
    if old is not None:
        old.stop()


def _the_pool() -> _Pool:
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = _Pool(tool_threads())
            pool = _pool
    return pool


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile (a timeout): the result is dropped
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _forget_pool() -> None:  # a forked child has none of its parent's threads
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


async def in_tool_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a tool thread, with the caller's context."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, function, *args, **kwargs)
    return await _the_pool().submit(asyncio.get_running_loop(), call)
