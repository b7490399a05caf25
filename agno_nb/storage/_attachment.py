"""The store thread's hold on its database file: attaching it, and handing it over.

The file is not opened with ``duckdb.connect(path)`` but ATTACHed to a private in-memory
DuckDB created once, and made the default catalog by ``USE``; ``DETACH`` lets it go
(attaching and detaching take and drop DuckDB's file lock, much cheaper than opening and
closing a connection: figures in docs/storage.md). Before attaching, the process takes
the file from other processes through the flock handoff of ``_filelock`` (waiting up to
``lock_timeout``, else ``StoreBusyError``); once it holds the file, ``waiters`` says
whether another process asks for it, and ``detach(yielding=True)`` hands it over. Every
attach migrates the schema and calls ``on_attach``; every detach first calls
``before_detach`` (caches of the file stop being exact once others may write it). An
``Attachment`` is used by the store thread alone (see ``_worker``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator

import duckdb

from agno_nb.exceptions import StoreBusyError, StoreError
from agno_nb.storage._batching import Fn
from agno_nb.storage._filelock import HandoffLock
from agno_nb.storage.schema import migrate

__all__ = ["Attachment", "all_cores"]

logger = logging.getLogger("agno_nb.storage")

_RETRY = 0.005  # seconds between ATTACH attempts while a process outside our lock has it
_ALIAS = "agno_store"
_BUSY_MARKERS = ("Could not set lock", "Unique file handle conflict")


class Attachment:
    """The connection of one store thread, and the database file (or ``:memory:``)
    attached to it.

    ``generation`` counts the attaches. ``before_detach`` is called right before the file
    is let go (while nobody else can have written it yet); ``on_attach`` each time the
    file has been attached and migrated (it must not raise).
    """

    def __init__(
        self,
        path: str,
        *,
        lock_timeout: float,
        before_detach: Callable[[], None],
        on_attach: Fn | None = None,
    ) -> None:
        self.path = path
        self.generation = 0
        self.attached = False
        self.attached_at = 0.0  # time.monotonic() of the last attach
        self._lock_timeout = lock_timeout
        self._before_detach = before_detach
        self._on_attach = on_attach
        self._handoff = None if path == ":memory:" else HandoffLock(path)
        self._db: duckdb.DuckDBPyConnection | None = None

    @property
    def db(self) -> duckdb.DuckDBPyConnection | None:
        """The in-memory DuckDB the file is attached to (``None`` before ``open``)."""
        return self._db

    @property
    def holding(self) -> bool:
        """Whether this holds a file that other processes may ask for."""
        return self.attached and self._handoff is not None

    def open(self) -> None:
        """Create the in-memory DuckDB now (the store thread's warm-up), if not yet."""
        if self._db is None:
            self._db = _connect()

    def waiters(self) -> bool:
        """Whether another process waits for the file this holds."""
        return self.attached and self._handoff is not None and self._handoff.has_waiters()

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The connection, with the file attached (taken from other processes if needed)."""
        self.open()
        db = self._db
        assert db is not None
        if self.attached:
            return db
        if self._handoff is None:
            migrate(db, name=":memory:")
        else:
            deadline = time.monotonic() + self._lock_timeout
            with self._handoff.waiting():
                if not self._handoff.acquire(deadline):
                    raise StoreBusyError(
                        f"{self.path}: another process has held this database for more "
                        f"than {self._lock_timeout:g} s (lock file {self._handoff.lock_path})"
                    )
                try:
                    self._attach_file(db, deadline)
                except BaseException:
                    self._handoff.release()
                    raise
        self.attached = True
        self.attached_at = time.monotonic()
        self.generation += 1
        return db

    def _attach_file(self, db: duckdb.DuckDBPyConnection, deadline: float) -> None:
        quoted = self.path.replace("'", "''")
        while True:
            try:
                db.execute(f"ATTACH '{quoted}' AS {_ALIAS}")
                break
            except duckdb.Error as exc:
                if not any(marker in str(exc) for marker in _BUSY_MARKERS):
                    raise StoreError(f"cannot open {self.path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"{self.path}: another process (not using agno-nb's lock) has held "
                        f"this database for more than {self._lock_timeout:g} s: {exc}"
                    ) from exc
                time.sleep(_RETRY)
        try:
            db.execute(f"USE {_ALIAS}")
            migrate(db, name=self.path)
            if self._on_attach is not None:
                self._on_attach(db)
        except BaseException:
            db.execute("USE memory")
            db.execute(f"DETACH {_ALIAS}")
            raise

    def detach(self, *, yielding: bool = False) -> None:
        """Let the file go: caches first, then DuckDB's lock, then ours (``yielding``: to
        a process that waits for it). ``:memory:`` is never let go."""
        if not self.attached or self._handoff is None:
            return
        assert self._db is not None
        self._before_detach()
        self.attached = False
        try:
            self._db.execute("USE memory")
            self._db.execute(f"DETACH {_ALIAS}")
        except duckdb.Error:
            logger.exception("detaching %s failed; reconnecting", self.path)
            self._db.close()
            self._db = _connect()
        finally:
            self._handoff.release(yielding=yielding)

    def close(self) -> None:
        """Let the file go, close the connection and the lock files."""
        self.detach()
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._handoff is not None:
            self._handoff.close()


def _connect() -> duckdb.DuckDBPyConnection:
    db = duckdb.connect(":memory:")
    db.execute("SET TimeZone = 'UTC'")
    db.execute("SET threads = 1")  # see all_cores
    return db


@contextlib.contextmanager
def all_cores(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB on every core for one job (a scan of many rows: analytics); the store's own
    statements run on one (DuckDB's worker threads cost more than they save on
    statements of a few rows)."""
    con.execute(f"SET threads = {os.cpu_count() or 1}")
    try:
        yield
    finally:
        con.execute("SET threads = 1")
