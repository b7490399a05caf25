"""The cross-process handoff lock of a DuckDB file: two ``flock`` sidecar files.

DuckDB lets one process at a time open a file read-write, and a second process cannot
even open it read-only. Processes of agno-nb therefore take turns, and this lock tells
them whose turn it is and whether anybody is waiting. The sidecar files sit next to the
database, hidden (``side_file``), so that a notebook's folder shows the database alone:

``.X.duckdb.lock`` (L)
    Held exclusively by the process that has the database open.
``.X.duckdb.queue`` (Q)
    Held shared by every process waiting for L. The holder of L probes it with a
    non-blocking exclusive lock: if that fails, somebody waits, and the holder hands the
    file over at its next opportunity (see ``agno_nb.storage.duckdb``).

``flock`` locks belong to an open file description, so two stores of one process exclude
each other exactly like two processes do, and the kernel drops the locks of a process
that dies. Waiting polls with short sleeps, 1 ms then 5 ms (``flock`` has no timeout). A
process that has just handed the file over lets a short grace period pass before it tries
to take L back, so that the waiter it yielded to gets its turn. Local file systems only
(``flock`` over NFS is not reliable).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["HandoffLock", "side_file"]

_FAST_SLEEP = 0.001  # a handover takes a few ms: poll fast at first,
_FAST_PERIOD = 0.05
_SLOW_SLEEP = 0.005  # then slower while the holder finishes its turn
_YIELD_GRACE = 2 * _SLOW_SLEEP


def side_file(db_path: str, suffix: str) -> str:
    """The hidden sidecar file ``suffix`` of a database: ``dir/X.duckdb`` gives
    ``dir/.X.duckdb.<suffix>``."""
    folder, name = os.path.split(db_path)
    return os.path.join(folder, f".{name}.{suffix}")


class HandoffLock:
    """The L and Q sidecar locks of one database file, kept open for the life of a store.

    Not thread-safe: one thread (the store thread) uses it.
    """

    def __init__(self, db_path: str) -> None:
        self.lock_path = side_file(db_path, "lock")
        self.queue_path = side_file(db_path, "queue")
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        self._lock_fd = os.open(self.lock_path, flags, 0o666)
        try:
            self._queue_fd = os.open(self.queue_path, flags, 0o666)
        except OSError:
            os.close(self._lock_fd)
            raise
        self.held = False
        self._yielded_at = float("-inf")

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Announce, for as long as the block runs, that this process waits for the file."""
        fcntl.flock(self._queue_fd, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)

    def acquire(self, deadline: float) -> bool:
        """Take L, polling until ``deadline`` (``time.monotonic()``); False on timeout."""
        started = time.monotonic()
        grace_end = self._yielded_at + _YIELD_GRACE
        while True:
            now = time.monotonic()
            if now >= grace_end and self._try_lock(self._lock_fd):
                self.held = True
                return True
            if now >= deadline:
                return False
            sleep = _FAST_SLEEP if now - started < _FAST_PERIOD else _SLOW_SLEEP
            time.sleep(min(sleep, deadline - now))

    def release(self, *, yielding: bool = False) -> None:
        """Give L up; ``yielding`` means a waiter asked for it and should get it first."""
        if self.held:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self.held = False
            if yielding:
                self._yielded_at = time.monotonic()

    def has_waiters(self) -> bool:
        """Whether another store waits for the file (some process holds Q shared)."""
        if not self._try_lock(self._queue_fd):
            return True
        fcntl.flock(self._queue_fd, fcntl.LOCK_UN)
        return False

    def close(self) -> None:
        """Release L and close both files (the sidecar files stay on disk)."""
        self.release()
        os.close(self._queue_fd)
        os.close(self._lock_fd)

    @staticmethod
    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
