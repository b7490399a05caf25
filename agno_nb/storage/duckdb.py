"""``DuckDBStore``: the embedded store, one DuckDB file shared by several processes.

Strategy
--------
*One thread per store owns the connection* (``_worker.StoreThread``). Public methods
queue a job and wait for it; ``save_run(durable=False)`` and ``submit`` only queue it.
Queued writes are committed in batches, one transaction per batch. Jobs run in queue
order, so a read sees every write queued before it.

*Caches* (``_cache.RunCache``): while this process holds the file nobody else can write
it, so a cache of sessions and of each (session, user)'s last 50 completed runs is exact;
``claim_session`` and ``history`` then cost no database trip, and a completed run saved
here is visible to the next ``history`` at once. The caches are emptied before the file
is let go, so every reopen (``generation`` + 1) starts from the database.

*Handing the file over.* DuckDB lets one process open a file read-write, and no other
process open it at all. Stores take turns with the flock protocol of ``_filelock``: to
open, announce "waiting" (shared lock on ``.X.duckdb.queue``), take ``.X.duckdb.lock``
(polling until ``lock_timeout``, else ``StoreBusyError``), ATTACH the file (retrying while
a process that ignores our lock has it open), stop announcing. The holder checks for
waiters every 5 ms while idle, and after each batch once it has held the file for 50 ms
(a turn, so that a busy process gets work done between handovers); if somebody waits, it
commits, lets the file go and takes it back for its next job. It also lets go after
``idle_release`` seconds without jobs: only then, or once the store is closed, can
processes that do not use agno-nb (the DuckDB CLI, a plain ``duckdb.connect``) open the
file; while they hold it, agno-nb stores wait (up to ``lock_timeout``).

Guarantees: writes of a process are committed each once, in the order they were made
(within a batch, a run's saves are written together, and a run's first save may move to
the next batch: ``_worker``, ``_runwrites``); a write that fails loses only itself (it is
logged and kept in ``write_errors``, or raised by ``save_run(durable=True)``); a process
reads its own earlier writes; other processes
see a write-behind save once it is committed (``flush()`` or ``durable=True`` to wait).
A pause (the run and its approval rows) is one transaction. Saves still queued when the
process is killed are lost, at most those of the last second (``_batching.MAX_AGE``); a
normal exit commits them.

Costs: cache hits cost no database trip; ``save_run(durable=False)`` only serialises the
run in the caller; a batch of run saves costs the store thread about the same whatever its
size (one statement per table, over Arrow); ``save_run(durable=True)`` waits for a commit.
Handing the file over is quick from an idle holder, up to a turn plus one batch from a
busy one. After ``idle_release`` the next job reopens the file and the caches start empty.
The measured figures are in docs/storage.md (``python -m bench`` measures them again).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import duckdb

from agno_nb.exceptions import RunStateError, SessionAccessError, StoreError
from agno_nb.run import RunOutput, RunStatus
from agno_nb.storage._approvals import ApprovalStoreMixin, insert_approvals, paused_approvals
from agno_nb.storage._cache import HISTORY_CAP, RunCache
from agno_nb.storage._recovery import Recovery, recover_abandoned_runs
from agno_nb.storage._rows import (
    insert_session,
    run_row,
    select_completed,
    select_run,
    select_runs,
    select_session,
    select_sessions,
)
from agno_nb.storage._runwrites import RunSave, RunWriter
from agno_nb.storage._spans import SpanBuffer
from agno_nb.storage._worker import StoreThread
from agno_nb.storage.protocol import SessionRecord

if TYPE_CHECKING:
    from types import TracebackType

    from agno_nb.approvals import ApprovalRequest
    from agno_nb.spans import SpanRow

__all__ = ["DuckDBStore"]

T = TypeVar("T")


def _shut_down(spans: SpanBuffer, thread: StoreThread) -> None:
    """Queue the buffered spans, then commit everything and stop the store thread."""
    if not thread.closed:
        spans.close()
    thread.close()


class DuckDBStore(ApprovalStoreMixin):
    """The ``Store`` on a DuckDB file (or ``":memory:"``), safe to share between threads
    and, through the handoff protocol, between processes.

    ``lock_timeout``: seconds to wait for another process to let the file go before
    ``StoreBusyError``. ``idle_release``: seconds without jobs after which the file is let
    go, so that other tools can open it (ignored for ``:memory:``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = 30.0,
        idle_release: float = 2.0,
    ) -> None:
        path = os.fspath(path)
        self._path = path = path if path == ":memory:" else os.path.abspath(path)
        self._cache = RunCache()
        self._recovery = Recovery()
        self._writer = RunWriter()
        self._thread = thread = StoreThread(
            path,
            lock_timeout=lock_timeout,
            idle_release=idle_release,
            invalidate=self._cache.invalidate,
            on_attach=None if path == ":memory:" else self._recovery.on_attach,
        )

        def submit_spans(fn: Callable[[duckdb.DuckDBPyConnection], object]) -> None:
            thread.write(fn, wait=False, label="write_spans")

        self._spans = spans = SpanBuffer(submit_spans)
        # Flush and close when garbage collected or at interpreter exit, whichever first.
        self._finalizer = weakref.finalize(self, _shut_down, spans, thread)

    @property
    def path(self) -> str:
        """The file's absolute path, or ``":memory:"``."""
        return self._path

    @property
    def closed(self) -> bool:
        return self._thread.closed

    @property
    def generation(self) -> int:
        """How many times the database has been (re)opened by this store."""
        return self._thread.generation

    @property
    def write_errors(self) -> list[BaseException]:
        """Exceptions of failed write-behind jobs, oldest first (the last 1000)."""
        return self._thread.write_errors

    # -- the escape hatch for features built on this store ---------------------------

    def call(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, parallel: bool = False) -> T:
        """Run ``fn(con)`` in the store thread inside a transaction and return its result.

        Blocks until done, after every job queued before it. If ``fn`` raises, the
        transaction is rolled back and the exception raised here. ``fn`` must return
        materialised data (``fetchall()``, ``df()``, ``to_arrow_table()``), not a relation
        or cursor, and must not change sessions or completed runs behind the caches (use
        ``save_run`` for those). ``parallel``: DuckDB may use every core for this job (a
        scan of many rows; the store's own statements run on one).
        """
        self._check_open()
        self._spans.submit_now()  # the query sees the spans this process recorded
        return self._thread.call(fn, transaction=True, parallel=parallel)

    def submit(self, fn: Callable[[duckdb.DuckDBPyConnection], object]) -> None:
        """Queue ``fn(con)`` as a write-behind job, committed with its batch.

        Returns at once. A failure is logged on ``agno_nb.storage`` and appended to
        ``write_errors``. ``fn`` may run twice (after its batch failed for another job).
        """
        self._check_open()
        self._thread.write(fn, wait=False, label=getattr(fn, "__qualname__", repr(fn)))

    # -- tracing ---------------------------------------------------------------------

    def record_spans(self, rows: list[SpanRow]) -> None:
        """Queue finished spans (``agno_nb.spans`` rows); written in batches."""
        self._check_open()
        self._spans.add(rows)

    def recover_abandoned_runs(self) -> list[str]:
        """Mark ``running`` runs of dead local processes (or expired leases) as failed now;
        their ids. A store also does this by itself when it opens the file."""
        now = datetime.now(UTC)
        return self.call(lambda con: recover_abandoned_runs(con, now))

    def warm_up(self) -> None:
        """Do now what the first runs would pay for: import what writing needs in the
        calling thread (pyarrow, and pandas, which pyarrow loads on its first conversion:
        about 0.4 s of CPU that would otherwise hold the GIL against the event loop), and
        open the file (schema, and the recovery every opening does: runs a dead process
        left ``running`` are marked failed). A service calls it at start-up."""
        from agno_nb.storage._arrow import warm_up

        warm_up()
        self._read(lambda con: None)

    # -- the Store protocol ----------------------------------------------------------

    def claim_session(self, session_id: str, user_id: str, agent_id: str) -> SessionRecord:
        self._check_open()
        record = self._cache.session(session_id)
        if record is None:  # no queued write of ours concerns it (claimed sessions are cached)
            record = self._read(
                lambda con: self._load_session(con, session_id, user_id, agent_id), around=True
            )
        if record.user_id != user_id:
            raise SessionAccessError(
                f"session {session_id!r} belongs to another user: user {user_id!r} cannot "
                "use it (pick another session_id)"
            )
        return record

    def save_run(self, run: RunOutput, *, durable: bool = False) -> None:
        self._save(run, durable, None)

    def save_pause(self, run: RunOutput, approvals: list[ApprovalRequest]) -> None:
        """The paused run and its approval rows, in one job, so one transaction, committed
        when this returns: a process killed at any moment leaves the whole pause in the
        file or none of it. The job supersedes the saves of the run still queued (they are
        older); no later save of the run supersedes it (``sealed``)."""
        self._save(run, True, approvals)

    def _save(self, run: RunOutput, durable: bool, approvals: list[ApprovalRequest] | None) -> None:
        self._check_open()
        run_id, cache = run.run_id, self._cache
        token = cache.saving(run)
        save = RunSave(run_row(run), self._writer.write, lambda: cache.written(run_id, token))
        job: Callable[[duckdb.DuckDBPyConnection], None] = save
        if approvals is not None:

            def job(con: duckdb.DuckDBPyConnection) -> None:
                save(con)  # alone, so "careful": the run and its session are looked up
                insert_approvals(con, approvals)

        label = "save_run" if approvals is None else "save_pause"
        try:
            self._thread.write(
                job, wait=durable, label=f"{label}({run_id!r})", key=f"run:{run_id}",
                defer=run.status == RunStatus.RUNNING, sealed=approvals is not None,
            )  # fmt: skip
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: saving run {run_id!r} failed: {exc}") from exc

    def _load_run(self, con: duckdb.DuckDBPyConnection, run_id: str) -> RunOutput | None:
        run = select_run(con, run_id)
        if run is not None:
            self._writer.seen(run_id)
        return run

    def get_run(self, run_id: str) -> RunOutput | None:
        """The run; a paused one with the approvals its pending calls wait for
        (``RunStateError`` if their rows are missing: a pause not stored whole)."""
        self._check_open()
        run, problem = self._read(lambda con: self._load_paused(con, run_id))
        if problem is not None:
            raise RunStateError(problem)
        return run

    def _load_paused(
        self, con: duckdb.DuckDBPyConnection, run_id: str
    ) -> tuple[RunOutput | None, str | None]:
        run = self._load_run(con, run_id)
        if run is None or run.status != RunStatus.PAUSED:
            return run, None
        run.approvals, problem = paused_approvals(con, run)
        return run, problem

    def history(self, session_id: str, user_id: str, limit: int) -> list[RunOutput]:
        self._check_open()
        cached = self._cache.history(session_id, user_id, limit)
        if cached is not None:
            return cached
        return self._read(lambda con: self._load_history(con, session_id, user_id, limit))

    def get_session(self, session_id: str) -> SessionRecord | None:
        self._check_open()
        record = self._cache.session(session_id)
        if record is not None:
            return record
        return self._read(lambda con: select_session(con, session_id))

    def list_sessions(
        self, *, user_id: str | None = None, agent_id: str | None = None, limit: int = 100
    ) -> list[SessionRecord]:
        self._check_open()
        filters = {"user_id": user_id, "agent_id": agent_id}
        return self._read(lambda con: select_sessions(con, filters, limit))

    def list_runs(
        self,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[RunOutput]:
        self._check_open()
        filters = {"session_id": session_id, "user_id": user_id, "agent_id": agent_id,
                   "status": None if status is None else str(status)}  # fmt: skip
        return self._read(lambda con: select_runs(con, filters, limit))

    def flush(self) -> None:
        self._check_open()
        self._spans.submit_now()
        self._thread.flush()

    def close(self) -> None:
        """Commit what is queued, let the file go and stop the thread (idempotent)."""
        self._finalizer()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._thread.closed else f"generation {self.generation}"
        return f"DuckDBStore({self.path!r}, {state})"

    # -- jobs (they run in the store thread) -----------------------------------------

    def _check_open(self) -> None:
        if self._thread.closed:
            raise StoreError(f"the store of {self.path} is closed")

    def _read(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, around: bool = False) -> T:
        try:
            return self._thread.call(fn, transaction=False, around=around)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    def _load_session(
        self, con: duckdb.DuckDBPyConnection, session_id: str, user_id: str, agent_id: str
    ) -> SessionRecord:
        record = select_session(con, session_id)
        if record is None:
            now = datetime.now(UTC)
            record = SessionRecord(
                session_id=session_id, user_id=user_id, agent_id=agent_id, created_at=now,
                updated_at=now,
            )  # fmt: skip
            insert_session(con, record)
            # save_run creates the session of any run it saves: a new session has no runs.
            self._cache.load_history(session_id, user_id, [])
        self._writer.seen_session(session_id)
        self._cache.put_session(record)
        return record

    def _load_history(
        self, con: duckdb.DuckDBPyConnection, session_id: str, user_id: str, limit: int
    ) -> list[RunOutput]:
        if limit <= 0:
            return []
        runs = select_completed(con, session_id, user_id, max(limit, HISTORY_CAP))
        if limit > HISTORY_CAP:
            return runs
        self._cache.load_history(session_id, user_id, runs)
        cached = self._cache.history(session_id, user_id, limit)
        return cached if cached is not None else runs[-limit:]
