"""One service per DuckDB file: the ``.X.duckdb.service`` lock taken at app start-up.

DuckDB lets one process open a file at a time. The store shares the file between
processes by handing it over (see ``agno_nb.storage.duckdb``), which suits a kernel, a
notebook and one dev server; it does not suit several service workers, which would spend
their time handing the file back and forth. So a service takes an exclusive ``flock`` on
a hidden sidecar file next to the database when it starts, and a second service (another
uvicorn worker, another ``agno-nb serve``) on the same file fails at start-up with a
message saying that several workers need Postgres. The kernel drops the lock of a process
that dies, so a crashed service never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from typing import TYPE_CHECKING

from agno_nb.exceptions import ConfigError

if TYPE_CHECKING:
    from agno_nb.storage import Store

__all__ = ["ServiceLock", "service_lock_path"]


def service_lock_path(store: Store) -> str | None:
    """The lock file of ``store``'s database, or None when it needs none (in memory, or
    a store that is not a DuckDB file: Postgres takes several workers)."""
    path = store.path
    if path == ":memory:":
        return None
    from agno_nb.storage._filelock import side_file
    from agno_nb.storage.duckdb import DuckDBStore

    return side_file(path, "service") if isinstance(store, DuckDBStore) else None


class ServiceLock:
    """The exclusive service lock of one DuckDB file, held from ``acquire`` to ``release``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise ``ConfigError`` naming the process that holds it."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            folder, name = os.path.split(self.path)  # .X.duckdb.service -> X.duckdb
            database = os.path.join(folder, name.removeprefix(".").removesuffix(".service"))
            raise ConfigError(
                f"{database} is already served by another agno-nb service process "
                f"({holder}). A DuckDB file takes one service worker: run one worker "
                "(uvicorn --workers 1), or use Postgres (db='postgresql://...') for several "
                "workers or replicas."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (idempotent); the file stays, empty."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __repr__(self) -> str:
        return f"ServiceLock({self.path!r}, held={self.held})"


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:  # pragma: no cover - unreadable lock file
        text = ""
    return text or "pid unknown"
