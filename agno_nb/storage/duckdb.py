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
open, announce "waiting" (shared lock on ``X.duckdb.queue``), take ``X.duckdb.lock``
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
Saves still queued when the process is killed are lost; a normal exit commits them.

Costs (2-core machine, p50): ``claim_session`` / ``history`` cache hits 0.5-0.8 µs;
``save_run(durable=False)`` 25 µs in the caller (serialising the run); a job round trip
70 µs, 270 µs for ``call`` (BEGIN + COMMIT); a batch of run saves costs the store
thread a few ms whatever its size (one statement per table, over Arrow), so a served run
costs it 0.25-0.55 ms; ``save_run(durable=True)`` waits about 5 ms. Handing the
file to another process takes 7.5 ms (p90 12 ms) from an idle holder, up to a turn plus one
batch from a busy one. After ``idle_release`` the next job reopens the file (3 ms) and the
caches start empty.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from agno_nb.exceptions import SessionAccessError, StoreError
from agno_nb.run import RunOutput, RunStatus
from agno_nb.storage import SessionRecord
from agno_nb.storage._approvals import ApprovalStoreMixin
from agno_nb.storage._cache import HISTORY_CAP, RunCache
from agno_nb.storage._recovery import Recovery, process_owner, recover_abandoned_runs
from agno_nb.storage._runwrites import (
    RUN_COLUMNS,
    SESSION_COLUMNS,
    STATE_COLUMNS,
    RunSave,
    RunWriter,
)
from agno_nb.storage._spans import SpanBuffer
from agno_nb.storage._worker import StoreThread

if TYPE_CHECKING:
    from types import TracebackType

    from agno_nb.tracing import SpanRow

__all__ = ["DuckDBStore"]

T = TypeVar("T")

_USAGE_COLUMNS = STATE_COLUMNS[10:15]
_JSON_COLUMNS = ("content", "messages", "tool_calls")

_SELECT_RUNS = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
_SELECT_SESSIONS = f"SELECT {SESSION_COLUMNS} FROM sessions"
_INSERT_SESSION = f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"

Row = tuple[Any, ...]


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _run_row(run: RunOutput) -> Row:
    """The values of ``RUN_COLUMNS`` for ``run`` (serialised in the caller's thread, so
    that the write job sees the run as it was when saved)."""
    data = run.to_dict()
    usage = run.usage
    return (
        run.run_id, run.session_id, run.user_id, run.agent_id, run.agent_name,
        run.created_at, process_owner(), str(run.status), run.input, _dumps(data["content"]),
        _dumps(data["messages"]), _dumps(data["tool_calls"]), run.model, run.stop_reason,
        run.error, run.error_type, run.trace_id, usage.input_tokens, usage.output_tokens,
        usage.cache_read_tokens, usage.cache_write_tokens, usage.requests, run.updated_at,
        run.finished_at, run.duration_ms, run.root_span_id,
    )  # fmt: skip


def _shut_down(spans: SpanBuffer, thread: StoreThread) -> None:
    """Queue the buffered spans, then commit everything and stop the store thread."""
    if not thread.closed:
        spans.close()
    thread.close()


def _run_from_row(row: Row) -> RunOutput:
    data = dict(zip(RUN_COLUMNS, row, strict=True))
    for column in _JSON_COLUMNS:
        if data[column] is not None:
            data[column] = json.loads(data[column])
    data["usage"] = {column: data.pop(column) or 0 for column in _USAGE_COLUMNS}
    for column in ("created_at", "updated_at", "finished_at"):
        if data[column] is not None:
            data[column] = data[column].isoformat()
    return RunOutput.from_dict(data)


def _session_from_row(row: Row) -> SessionRecord:
    session_id, user_id, agent_id, created_at, updated_at, state = row
    return SessionRecord(
        session_id=session_id,
        user_id=user_id,
        agent_id=agent_id,
        created_at=created_at,
        updated_at=updated_at,
        state=json.loads(state) if state else {},
    )


def _where(filters: dict[str, str | None]) -> tuple[str, list[Any]]:
    """``WHERE`` for the filters that are set (column names are ours, never the user's)."""
    used = {column: value for column, value in filters.items() if value is not None}
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{c} = ?" for c in used), list(used.values())


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
        self.path = path if path == ":memory:" else os.path.abspath(path)
        self._cache = RunCache()
        self._recovery = Recovery()
        self._writer = RunWriter()
        self._thread = thread = StoreThread(
            self.path,
            lock_timeout=lock_timeout,
            idle_release=idle_release,
            invalidate=self._cache.invalidate,
            on_attach=None if self.path == ":memory:" else self._recovery.on_attach,
        )

        def submit_spans(fn: Callable[[duckdb.DuckDBPyConnection], object]) -> None:
            thread.write(fn, wait=False, label="write_spans")

        self._spans = spans = SpanBuffer(submit_spans)
        # Flush and close when garbage collected or at interpreter exit, whichever first.
        self._finalizer = weakref.finalize(self, _shut_down, spans, thread)

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
        """Queue finished spans (``agno_nb.tracing`` rows); written in batches."""
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
        self._check_open()
        run_id, cache = run.run_id, self._cache
        token = cache.saving(run)
        save = RunSave(_run_row(run), self._writer.write, lambda: cache.written(run_id, token))
        try:
            self._thread.write(
                save, wait=durable, label=f"save_run({run_id!r})", key=f"run:{run_id}",
                defer=run.status == RunStatus.RUNNING,
            )  # fmt: skip
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: saving run {run_id!r} failed: {exc}") from exc

    def _load_run(self, con: duckdb.DuckDBPyConnection, run_id: str) -> RunOutput | None:
        rows = con.execute(f"{_SELECT_RUNS} WHERE run_id = ?", [run_id]).fetchall()
        if not rows:
            return None
        self._writer.seen(run_id)
        return _run_from_row(rows[0])

    def get_run(self, run_id: str) -> RunOutput | None:
        self._check_open()
        return self._read(lambda con: self._load_run(con, run_id))

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
        rows = self._read(
            lambda con: con.execute(
                f"{_SELECT_SESSIONS} WHERE session_id = ?", [session_id]
            ).fetchall()
        )
        return _session_from_row(rows[0]) if rows else None

    def list_sessions(
        self, *, user_id: str | None = None, agent_id: str | None = None, limit: int = 100
    ) -> list[SessionRecord]:
        self._check_open()
        where, params = _where({"user_id": user_id, "agent_id": agent_id})
        sql = f"{_SELECT_SESSIONS}{where} ORDER BY updated_at DESC, session_id LIMIT ?"
        rows = self._read(lambda con: con.execute(sql, [*params, limit]).fetchall())
        return [_session_from_row(row) for row in rows]

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
        filters = {"session_id": session_id, "user_id": user_id, "agent_id": agent_id}
        where, params = _where({**filters, "status": None if status is None else str(status)})
        sql = f"{_SELECT_RUNS}{where} ORDER BY created_at DESC, run_id DESC LIMIT ?"
        rows = self._read(lambda con: con.execute(sql, [*params, limit]).fetchall())
        return [_run_from_row(row) for row in rows]

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
        rows = con.execute(f"{_SELECT_SESSIONS} WHERE session_id = ?", [session_id]).fetchall()
        if rows:
            record = _session_from_row(rows[0])
        else:
            now = datetime.now(UTC)
            record = SessionRecord(
                session_id=session_id, user_id=user_id, agent_id=agent_id, created_at=now,
                updated_at=now,
            )  # fmt: skip
            con.execute(_INSERT_SESSION, [session_id, user_id, agent_id, now, now, "{}"])
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
        sql = (
            f"{_SELECT_RUNS} WHERE session_id = ? AND user_id = ? AND status = 'completed' "
            "ORDER BY created_at DESC, run_id DESC LIMIT ?"
        )
        rows = con.execute(sql, [session_id, user_id, max(limit, HISTORY_CAP)]).fetchall()
        runs = [_run_from_row(row) for row in reversed(rows)]
        if limit > HISTORY_CAP:
            return runs
        self._cache.load_history(session_id, user_id, runs)
        cached = self._cache.history(session_id, user_id, limit)
        return cached if cached is not None else runs[-limit:]
