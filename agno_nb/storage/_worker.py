"""The store thread: the one thread that owns a store's DuckDB connection.

Every database operation of a store runs here, in the order it was queued (FIFO, so a
read sees every write queued before it). Write jobs that are queued together run as one
batch in one transaction; if the batch fails it is rolled back and its jobs are redone one
by one, so a bad job loses only itself (a job may therefore run twice: keep its Python
side effects idempotent). The jobs of a batch that carry the same ``group`` callable are
handed to it together (``_runwrites``: the run saves of a batch are one INSERT). How
jobs make batches, and how long a batch waits, is ``_batching``. The file is attached,
taken from other processes and handed back by ``_attachment``; this thread decides when
(see ``agno_nb.storage.duckdb`` for the protocol, docs/storage.md for its costs).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import duckdb

from agno_nb.exceptions import StoreBusyError, StoreError
from agno_nb.storage._attachment import Attachment, all_cores
from agno_nb.storage._batching import (
    MAX_BATCH,
    Fn,
    Job,
    Kind,
    backlog,
    behind,
    carry,
    due,
    execute,
    gather_deadline,
    latest,
)

__all__ = ["StoreThread"]

T = TypeVar("T")

logger = logging.getLogger("agno_nb.storage")

_POLL = 0.005  # seconds between checks for waiting processes while idle, holding the file
_TURN = 0.05  # seconds the file is held at least before it is handed over
_MAX_WRITE_ERRORS = 1000


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
        self.write_errors: list[BaseException] = []
        self._idle_release = idle_release
        self._invalidate = invalidate
        self._file = Attachment(
            path, lock_timeout=lock_timeout, before_detach=invalidate, on_attach=on_attach
        )
        self._busy_at_close: StoreBusyError | None = None
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._urgent = threading.Event()  # a job somebody waits for is queued, or a batch
        self._room = MAX_BATCH  # ... of write-behind jobs: as many as the batch has room for
        self._write_seconds = 0.0  # how long the last batch of write jobs took
        self._backlog = MAX_BATCH  # queued jobs beyond which a write-behind save waits
        self._closing = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(
            target=self._loop, name=f"agno_nb.storage {os.path.basename(path)}", daemon=True
        )
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def generation(self) -> int:
        """How many times the file has been attached."""
        return self._file.generation

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
        kind = Kind.CALL if transaction else Kind.READ
        self._put(Job(kind, fn, future, parallel=parallel, around=around and not transaction))
        return future.result()

    def write(
        self,
        fn: Fn,
        *,
        wait: bool,
        label: str,
        key: str | None = None,
        defer: bool = False,
        sealed: bool = False,
    ) -> None:
        """Queue a write job; with ``wait``, return once it is committed (or raise).

        When a batch holds several jobs with the same ``key``, only the last one runs
        (the others count as committed with it): a save that a later save overwrites;
        a ``sealed`` job (it writes more than a later job of its key: a pause, with its
        approval rows) still runs, before it. ``defer``: a write-behind job that a later
        one of its key is likely to supersede soon (a run's first save); it goes to the
        next batch instead of this one, once, unless this batch holds a job that somebody
        waits for (``_batching.carry``). A write-behind job is committed within
        ``_batching.MAX_AGE`` of now (a deferred one, twice that): if the queue holds
        more than the thread writes in half that time, the caller waits for room first.
        """
        future: Future[Any] | None = Future() if wait else None
        if wait and threading.current_thread() is self._thread:
            raise StoreError("a store job cannot wait for another job of the same store")
        if not wait and self._queue.qsize() >= self._backlog:
            self._wait_for_room()
        defer = defer and not wait
        job = Job(Kind.WRITE, fn, future, label, key, defer=defer, sealed=sealed, due=due(defer))
        self._put(job)
        if future is not None:
            future.result()

    def _wait_for_room(self) -> None:
        """Slow a caller that queues faster than the thread writes down to its pace, so
        that what is queued is committed within ``MAX_AGE`` (a ``kill -9`` loses no more).
        A job of the thread itself never waits (nothing would make room)."""
        if threading.current_thread() is self._thread:
            return
        while self._queue.qsize() >= self._backlog and not self._closed:
            time.sleep(0.001)

    def flush(self) -> None:
        """Wait until every job queued so far has run."""
        if threading.current_thread() is self._thread:
            raise StoreError("a store job cannot wait for another job of the same store")
        future: Future[None] = Future()
        self._put(Job(Kind.FLUSH, future=future))
        future.result()

    def close(self) -> None:
        """Run the queued jobs, let the file go and end the thread (idempotent)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._queue.put(Job(Kind.STOP))
            self._urgent.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _put(self, job: Job) -> None:
        with self._closing:
            if self._closed:
                raise StoreError(f"the store of {self.path} is closed")
            self._queue.put(job)
        if not behind(job) or self._queue.qsize() >= self._room:
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
        self._file.open()  # warm up: create the in-memory DuckDB now
        importlib.import_module("pyarrow")  # the writes need it: import it now
        last_job = time.monotonic()
        carried: list[Job] = []
        while True:
            if not carried:
                holding = self._file.holding
                try:
                    carried = [self._queue.get(timeout=_POLL if holding else None)]
                except queue.Empty:
                    if self._file.waiters():
                        self._file.detach(yielding=True)
                    elif time.monotonic() - last_job >= self._idle_release:
                        self._file.detach()
                    continue
            jobs = self._gather(carried)
            carried = carry(jobs)
            if not self._run(jobs):
                return
            del jobs  # do not keep the store alive through a job's closure
            last_job = time.monotonic()
            if last_job - self._file.attached_at >= _TURN and self._file.waiters():
                self._file.detach(yielding=True)

    def _gather(self, jobs: list[Job]) -> list[Job]:
        """The batch that starts with ``jobs`` (one taken from the queue, or those carried
        over from the last batch).

        A batch of write-behind jobs waits for more, asleep (the jobs queued meanwhile do
        not wake the thread): a short run's start and end saves then land in one batch,
        where only the last one runs, and a busy process commits a few batches a second,
        whatever its number of runs (a statement and a commit cost about the same however
        few their rows: docs/storage.md). The wait is ``_batching.coalesce_wait`` (100 ms,
        or 20 times what the last write batch took, at most 1 s: writing then takes at
        most a twentieth of the time), cut short so that the oldest job is committed
        within ``MAX_AGE`` of being queued (``_batching.gather_deadline``), and ended at
        once when a whole batch (``MAX_BATCH`` jobs) is queued. A job that somebody waits
        for (a read, a call, a durable write, a flush, the stop) ends the wait, except a
        read ``around`` the queued writes (a new session's claim): it runs at once, and
        the batch waits on (else a service whose clients name a new session in every
        request would commit a batch per request).
        """
        jobs = list(jobs)
        deadline: float | None = None
        while True:
            self._take_queued(jobs)  # the oldest jobs, so the most urgent
            if not all(behind(job) or job.around for job in jobs):
                return jobs  # somebody waits for a job of this batch
            around = [job for job in jobs if job.around]
            for job in around:  # reads that need none of the waiting writes: at once
                self._run_call(job)
            jobs = [job for job in jobs if not job.around]
            if not jobs or len(jobs) >= MAX_BATCH:
                return jobs
            if deadline is None:
                deadline = gather_deadline(jobs, self._write_seconds)
            self._room = MAX_BATCH - len(jobs)  # a full batch wakes us
            woken = self._wait_for_company(deadline)
            self._room = MAX_BATCH
            if not woken:
                self._take_queued(jobs)
                return jobs

    def _take_queued(self, jobs: list[Job]) -> None:
        self._urgent.clear()  # what is queued from here on is taken below or wakes us
        while len(jobs) < MAX_BATCH:
            try:
                jobs.append(self._queue.get_nowait())
            except queue.Empty:
                break

    def _wait_for_company(self, deadline: float) -> bool:
        """Sleep until ``deadline`` (``time.monotonic()``), until a job somebody waits for
        is queued (then True), or (holding the file) another process asks for it: it then
        gets the file after this batch, as it would after a turn (``_TURN``), not after the
        whole wait."""
        if not self._file.holding:
            return self._urgent.wait(max(0.0, deadline - time.monotonic()))
        while not self._urgent.wait(min(_TURN, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or self._file.waiters():
                return False
        return True

    def _run(self, jobs: list[Job]) -> bool:
        """Run ``jobs`` in order; False once the STOP job was reached."""
        start = 0
        while start < len(jobs):
            job = jobs[start]
            if job.kind is Kind.WRITE:
                end = start
                while end < len(jobs) and jobs[end].kind is Kind.WRITE:
                    end += 1
                began = time.monotonic()
                self._run_writes(jobs[start:end])
                self._write_seconds = time.monotonic() - began
                self._backlog = backlog(end - start, self._write_seconds)
                start = end
                continue
            start += 1
            if job.kind is Kind.STOP:
                self._stop()
                return False
            if job.kind is Kind.FLUSH:
                assert job.future is not None
                job.future.set_result(None)
            else:
                self._run_call(job)
        return True

    def _run_call(self, job: Job) -> None:
        assert job.fn is not None
        assert job.future is not None
        try:
            con = self._attach()
            with all_cores(con) if job.parallel else contextlib.nullcontext():
                if job.kind is Kind.READ:
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

    def _run_writes(self, batch: list[Job], *, careful: bool = False) -> None:
        try:
            con = self._attach()
        except BaseException as exc:
            for job in batch:
                self._failed(job, exc)
            return
        fns = [job.fn for job in latest(batch) if job.fn is not None]
        try:
            con.begin()
            execute(con, fns, careful)
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

    def _failed(self, job: Job, exc: BaseException) -> None:
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

    def _attach(self) -> duckdb.DuckDBPyConnection:
        """The connection, with the file attached. Once the file is found busy while the
        store closes, what is left fails at once, not after one ``lock_timeout`` each."""
        if self._busy_at_close is not None:
            raise self._busy_at_close
        try:
            return self._file.connection()
        except StoreBusyError as exc:
            if self._closed:
                self._busy_at_close = exc
            raise

    def _stop(self) -> None:
        self._file.close()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job.future is not None:
                job.future.set_exception(StoreError(f"the store of {self.path} is closed"))
