"""The store thread: the one thread that owns a store's DuckDB connection.

Every database operation of a store runs here, in the order it was queued (FIFO, so a
read sees every write queued before it). Write jobs that are queued together run as one
batch in one transaction; if the batch fails it is rolled back and its jobs are redone one
by one, so a bad job loses only itself (a job may therefore run twice: keep its Python
side effects idempotent). The jobs of a batch that carry the same ``group`` callable are
handed to it together (``_runwrites``: the run saves of a batch are one INSERT). The
thread also takes the file from other processes and hands it back (see
``agno_nb.storage.duckdb`` for the protocol and its costs).

The file is not opened with ``duckdb.connect(path)`` (about 17 ms to open, 6 ms to close)
but ATTACHed to a private in-memory DuckDB created once (``ATTACH`` + ``DETACH``, which
takes and drops DuckDB's file lock: about 3 ms), and made the default catalog by ``USE``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, TypeVar

import duckdb

from agno_nb.exceptions import StoreBusyError, StoreError
from agno_nb.storage._filelock import HandoffLock
from agno_nb.storage.schema import migrate

__all__ = ["StoreThread", "coalesce_wait"]

T = TypeVar("T")
Fn = Callable[[duckdb.DuckDBPyConnection], Any]

logger = logging.getLogger("agno_nb.storage")

_POLL = 0.005
_TURN = 0.05
_MAX_BATCH = 4096
_COALESCE = 0.1  # seconds a write-behind batch waits for more jobs, at least (see _gather)
_MAX_COALESCE = 1.0  # ... and at most
_DUTY = 20  # the wait is at least this many times the last write batch's time
_MAX_WRITE_ERRORS = 1000
_ALIAS = "agno_store"
_BUSY_MARKERS = ("Could not set lock", "Unique file handle conflict")


class _Kind(Enum):
    CALL = auto()
    READ = auto()
    WRITE = auto()
    FLUSH = auto()
    STOP = auto()


@dataclass(slots=True)
class _Job:
    kind: _Kind
    fn: Fn | None = None
    future: Future[Any] | None = None
    label: str = ""
    key: str | None = None  # a later write job with the same key supersedes this one
    parallel: bool = False  # a CALL or READ that may use every core (analytics)
    defer: bool = False  # a write-behind job that may wait for the next batch, once
    around: bool = False  # a READ that needs none of the queued writes: may run before them


class StoreThread:
    """Runs jobs against one database file (or ``:memory:``) in a daemon thread.

    ``invalidate`` is called in the thread when what was read from the file may stop
    being true: right before the file is let go (while nobody else can have written it
    yet), and after a write batch failed. ``on_attach`` is called in the thread each time
    the file has been attached and migrated (it must not raise).
    """

    def __init__(
        self,
        path: str,
        *,
        lock_timeout: float,
        idle_release: float,
        invalidate: Callable[[], None],
        on_attach: Fn | None = None,
    ) -> None:
        self.path = path
        self.generation = 0
        self.write_errors: list[BaseException] = []
        self._lock_timeout = lock_timeout
        self._idle_release = idle_release
        self._invalidate = invalidate
        self._on_attach = on_attach
        self._handoff = None if path == ":memory:" else HandoffLock(path)
        self._db: duckdb.DuckDBPyConnection | None = None
        self._attached = False
        self._attached_at = 0.0
        self._busy_at_close: StoreBusyError | None = None
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._urgent = threading.Event()  # a job somebody waits for is queued
        self._write_seconds = 0.0  # how long the last batch of write jobs took
        self._closing = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(
            target=self._loop, name=f"agno_nb.storage {os.path.basename(path)}", daemon=True
        )
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def call(
        self,
        fn: Callable[[duckdb.DuckDBPyConnection], T],
        *,
        transaction: bool,
        parallel: bool = False,
        around: bool = False,
    ) -> T:
        """Run ``fn(con)`` in the thread and return its result (or raise its exception).

        DuckDB runs the store's statements on one core (its worker threads cost more than
        they save on statements of a few rows); ``parallel`` lets this job use them all (a
        scan of many rows: analytics). ``around`` (a job without ``transaction``): it needs
        none of the write-behind jobs queued before it, so it may run before them, while
        their batch goes on waiting for company (``_gather``); else a job runs after every
        job queued before it, and ends the wait of their batch.
        """
        if threading.current_thread() is self._thread:
            raise StoreError("a store job cannot wait for another job of the same store")
        future: Future[T] = Future()
        kind = _Kind.CALL if transaction else _Kind.READ
        self._put(_Job(kind, fn, future, parallel=parallel, around=around and not transaction))
        return future.result()

    def write(
        self, fn: Fn, *, wait: bool, label: str, key: str | None = None, defer: bool = False
    ) -> None:
        """Queue a write job; with ``wait``, return once it is committed (or raise).

        When a batch holds several jobs with the same ``key``, only the last one runs
        (the others count as committed with it): a save that a later save overwrites.
        ``defer``: a write-behind job that a later one of its key is likely to supersede
        soon (a run's first save); it goes to the next batch instead of this one, once,
        unless this batch holds a job that somebody waits for (``_carry``).
        """
        future: Future[Any] | None = Future() if wait else None
        if wait and threading.current_thread() is self._thread:
            raise StoreError("a store job cannot wait for another job of the same store")
        self._put(_Job(_Kind.WRITE, fn, future, label, key, defer=defer and not wait))
        if future is not None:
            future.result()

    def flush(self) -> None:
        """Wait until every job queued so far has run."""
        if threading.current_thread() is self._thread:
            raise StoreError("a store job cannot wait for another job of the same store")
        future: Future[None] = Future()
        self._put(_Job(_Kind.FLUSH, future=future))
        future.result()

    def close(self) -> None:
        """Run the queued jobs, let the file go and end the thread (idempotent)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_Job(_Kind.STOP))
            self._urgent.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _put(self, job: _Job) -> None:
        with self._closing:
            if self._closed:
                raise StoreError(f"the store of {self.path} is closed")
            self._queue.put(job)
        if not _behind(job):
            self._urgent.set()

    # -- the thread ------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            self._serve()
        except BaseException:
            logger.exception("the store thread of %s failed", self.path)
            with self._closing:
                self._closed = True
            self._stop()
            raise

    def _serve(self) -> None:
        self._db = self._connect()  # warm up: creating a DuckDB instance takes ~14 ms
        importlib.import_module("pyarrow")  # the writes need it: import it (~130 ms) now
        last_job = time.monotonic()
        carried: list[_Job] = []
        while True:
            if not carried:
                holding = self._handoff is not None and self._attached
                try:
                    carried = [self._queue.get(timeout=_POLL if holding else None)]
                except queue.Empty:
                    if self._waiters():
                        self._detach(yielding=True)
                    elif time.monotonic() - last_job >= self._idle_release:
                        self._detach()
                    continue
            jobs = self._gather(carried)
            carried = _carry(jobs)
            if not self._run(jobs):
                return
            del jobs  # do not keep the store alive through a job's closure
            last_job = time.monotonic()
            if last_job - self._attached_at >= _TURN and self._waiters():
                self._detach(yielding=True)

    def _gather(self, jobs: list[_Job]) -> list[_Job]:
        """The batch that starts with ``jobs`` (one taken from the queue, or those carried
        over from the last batch).

        A batch of write-behind jobs waits for more, asleep (the jobs queued meanwhile do
        not wake the thread): a short run's start and end saves then land in one batch,
        where only the last one runs, and a busy process commits a few batches a second,
        whatever its number of runs. A DuckDB statement costs 0.3-2 ms of CPU however few
        its rows, a commit about 1 ms, and three to five times that while the event loop
        keeps the GIL busy (each time DuckDB takes the GIL to check for signals, the loop
        is made to hand it over). So the wait is ``_COALESCE`` (100 ms), or ``_DUTY``
        times what the last write batch took if that is longer (at most
        ``_MAX_COALESCE``): writing then takes at most a twentieth of the time, and
        its share of a busy process's CPU stays small. A job that somebody waits for (a
        read, a call, a durable write, a flush, the stop) ends the wait, except a read
        ``around`` the queued writes (a new session's claim): it runs at once, and the
        batch waits on. Without that, a service whose clients name a new session in every
        request commits a batch per request: 11 ms of store CPU per run instead of 0.2.
        """
        jobs = list(jobs)
        if not all(_behind(job) for job in jobs):
            self._take_queued(jobs)
            return jobs
        deadline = time.monotonic() + coalesce_wait(self._write_seconds)
        while True:
            woken = self._wait_for_company(deadline)
            self._take_queued(jobs)
            around = [job for job in jobs if job.around]
            if not (woken and around and all(_behind(j) or j.around for j in jobs)):
                return jobs
            for job in around:  # reads that need none of the waiting writes: at once
                self._run_call(job)
            jobs = [job for job in jobs if not job.around]

    def _take_queued(self, jobs: list[_Job]) -> None:
        self._urgent.clear()  # what is queued from here on is taken below or wakes us
        while len(jobs) < _MAX_BATCH:
            try:
                jobs.append(self._queue.get_nowait())
            except queue.Empty:
                break

    def _wait_for_company(self, deadline: float) -> bool:
        """Sleep until ``deadline`` (``time.monotonic()``), until a job somebody waits for
        is queued (then True), or (holding the file) another process asks for it: it then
        gets the file after this batch, as it would after a turn (``_TURN``), not after the
        whole wait."""
        if self._handoff is None or not self._attached:
            return self._urgent.wait(max(0.0, deadline - time.monotonic()))
        while not self._urgent.wait(min(_TURN, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or self._waiters():
                return False
        return True

    def _run(self, jobs: list[_Job]) -> bool:
        """Run ``jobs`` in order; False once the STOP job was reached."""
        start = 0
        while start < len(jobs):
            job = jobs[start]
            if job.kind is _Kind.WRITE:
                end = start
                while end < len(jobs) and jobs[end].kind is _Kind.WRITE:
                    end += 1
                began = time.monotonic()
                self._run_writes(jobs[start:end])
                self._write_seconds = time.monotonic() - began
                start = end
                continue
            start += 1
            if job.kind is _Kind.STOP:
                self._stop()
                return False
            if job.kind is _Kind.FLUSH:
                assert job.future is not None
                job.future.set_result(None)
            else:
                self._run_call(job)
        return True

    def _run_call(self, job: _Job) -> None:
        assert job.fn is not None
        assert job.future is not None
        try:
            con = self._attach()
            with _all_cores(con) if job.parallel else contextlib.nullcontext():
                if job.kind is _Kind.READ:
                    result = job.fn(con)
                else:
                    con.begin()
                    try:
                        result = job.fn(con)
                        con.commit()
                    except BaseException:
                        self._rollback(con)
                        raise
        except BaseException as exc:  # the thread must go on, whatever a job raises
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)

    def _run_writes(self, batch: list[_Job], *, careful: bool = False) -> None:
        try:
            con = self._attach()
        except BaseException as exc:
            for job in batch:
                self._failed(job, exc)
            return
        fns = [job.fn for job in _latest(batch) if job.fn is not None]
        try:
            con.begin()
            _execute(con, fns, careful)
            con.commit()
        except BaseException as exc:
            self._rollback(con)
            self._invalidate()
            if careful:
                self._failed(batch[0], exc)
                return
            for job in batch:  # redone one by one, rows looked up first: only a bad job fails
                self._run_writes([job], careful=True)
            return
        for job in batch:
            if job.future is not None:
                job.future.set_result(None)

    def _failed(self, job: _Job, exc: BaseException) -> None:
        if job.future is not None:
            job.future.set_exception(exc)
            return
        exc.add_note(f"agno_nb.storage: write-behind job {job.label} on {self.path} failed")
        logger.error("write-behind job %s on %s failed", job.label, self.path, exc_info=exc)
        self.write_errors.append(exc)
        del self.write_errors[:-_MAX_WRITE_ERRORS]

    @staticmethod
    def _rollback(con: duckdb.DuckDBPyConnection) -> None:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT ends the transaction
            con.rollback()

    def _stop(self) -> None:
        self._detach()
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._handoff is not None:
            self._handoff.close()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job.future is not None:
                job.future.set_exception(StoreError(f"the store of {self.path} is closed"))

    # -- opening and handing over the file -------------------------------------------

    @staticmethod
    def _connect() -> duckdb.DuckDBPyConnection:
        db = duckdb.connect(":memory:")
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET threads = 1")  # see call(parallel=...)
        return db

    def _waiters(self) -> bool:
        return self._attached and self._handoff is not None and self._handoff.has_waiters()

    def _attach(self) -> duckdb.DuckDBPyConnection:
        """The connection, with the file attached (taken from other processes if needed)."""
        if self._db is None:
            self._db = self._connect()
        db = self._db
        if self._attached:
            return db
        if self._busy_at_close is not None:
            raise self._busy_at_close
        if self._handoff is None:
            migrate(db, name=":memory:")
        else:
            deadline = time.monotonic() + self._lock_timeout
            try:
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
            except StoreBusyError as exc:
                if self._closed:  # closing: fail what is left at once, not one timeout each
                    self._busy_at_close = exc
                raise
        self._attached = True
        self._attached_at = time.monotonic()
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
                time.sleep(_POLL)
        try:
            db.execute(f"USE {_ALIAS}")
            migrate(db, name=self.path)
            if self._on_attach is not None:
                self._on_attach(db)
        except BaseException:
            db.execute("USE memory")
            db.execute(f"DETACH {_ALIAS}")
            raise

    def _detach(self, *, yielding: bool = False) -> None:
        """Let the file go: caches first, then DuckDB's lock, then ours."""
        if not self._attached or self._handoff is None:
            return
        assert self._db is not None
        self._invalidate()
        self._attached = False
        try:
            self._db.execute("USE memory")
            self._db.execute(f"DETACH {_ALIAS}")
        except duckdb.Error:
            logger.exception("detaching %s failed; reconnecting", self.path)
            self._db.close()
            self._db = self._connect()
        finally:
            self._handoff.release(yielding=yielding)


def _execute(con: duckdb.DuckDBPyConnection, fns: list[Fn], careful: bool) -> None:
    """Run a batch's write jobs in order, but: jobs with the same ``group`` attribute go
    to one ``group(con, jobs, careful)`` call (``careful`` when a failed batch is redone),
    and jobs marked ``independent`` (they write rows no other job writes: spans) wait for
    that call, so that they do not split the group. Any other job runs in its place."""
    group: Any = None
    members: list[Fn] = []
    independent: list[Fn] = []

    def run_waiting() -> None:
        nonlocal group
        if members:
            group(con, members, careful)
        for fn in independent:
            fn(con)
        group = None
        members.clear()
        independent.clear()

    for fn in fns:
        fn_group = getattr(fn, "group", None)
        if fn_group is not None:
            if group is not None and fn_group != group:
                run_waiting()
            group = fn_group
            members.append(fn)
        elif getattr(fn, "independent", False):
            independent.append(fn)
        else:
            run_waiting()
            fn(con)
    run_waiting()


@contextlib.contextmanager
def _all_cores(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB on every core for one job (0.3-0.5 ms to switch there and back)."""
    con.execute(f"SET threads = {os.cpu_count() or 1}")
    try:
        yield
    finally:
        con.execute("SET threads = 1")


def coalesce_wait(last_write_seconds: float) -> float:
    """How long a batch of write-behind jobs waits for more (see ``StoreThread._gather``)."""
    return min(_MAX_COALESCE, max(_COALESCE, _DUTY * last_write_seconds))


def _carry(jobs: list[_Job]) -> list[_Job]:
    """Take the deferred jobs out of ``jobs`` (the batch about to run): those not carried
    before and not superseded in the batch, when nobody waits for any job of it. A run
    that ends within two batches is then written once, not inserted then updated."""
    if not all(_behind(job) for job in jobs):
        return []
    carried = [job for job in _latest(jobs) if job.defer]
    taken = {id(job) for job in carried}
    jobs[:] = [job for job in jobs if id(job) not in taken]
    for job in carried:
        job.defer = False
    return carried


def _latest(jobs: list[_Job]) -> list[_Job]:
    """``jobs`` without those that a later job of the same ``key`` supersedes."""
    last = {job.key: index for index, job in enumerate(jobs) if job.key is not None}
    return [job for index, job in enumerate(jobs) if job.key is None or last[job.key] == index]


def _behind(job: _Job) -> bool:
    """A write-behind job: nobody waits for it."""
    return job.kind is _Kind.WRITE and job.future is None
