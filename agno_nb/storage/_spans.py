"""Writing spans: a buffer per store, drained in batches by the store thread.

``record_spans(rows)`` (a run's spans when it ends or pauses, already scrubbed by the
recorder) extends a list under a lock and, unless spans were written less than 100 ms
ago, queues a write-behind job at once; otherwise a drainer thread queues it when the
100 ms are over, with every span that came meanwhile. The job converts the rows to Arrow
in one call and inserts them with one ``INSERT ... SELECT`` (``_arrow``). An insert into
the wide ``spans`` table costs a few ms however few its rows, so a busy process (a run
every few ms) queues at most ten span writes a second instead of one per run (and the
store thread commits them with its own batches, ``_worker``).

Durability: a run's spans are queued when it ends or pauses, like its run row; in a busy
process up to 100 ms later (at once before a read of this process, and at a normal exit
or ``close``). A ``kill -9`` loses the spans of the run it interrupts and, in a busy
process, those of runs that ended in the 100 ms before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from agno_nb.spans import SPAN_FIELDS, SpanRow
from agno_nb.storage._arrow import Kind, execute_over

if TYPE_CHECKING:
    import duckdb

__all__ = ["SpanBuffer", "insert_spans"]

_TIMES = ("start_ns", "end_ns")  # ints (ns) that Arrow takes as timestamps at once
_INTS = ("prompt_tokens", "completion_tokens", "cache_read_tokens",
         "cache_write_tokens")  # fmt: skip
_FLOATS = ("cost_prompt_usd", "cost_completion_usd", "cost_usd")


def _kind(name: str) -> Kind:
    if name in _TIMES:
        return "time_ns"
    return "int" if name in _INTS else "float" if name in _FLOATS else "str"


# the row's fields; its JSON text "extra" goes to the column attributes
_FIELDS: tuple[tuple[str, Kind], ...] = tuple(
    (name, _kind(name)) for name in (*SPAN_FIELDS[:-1], "attributes")
)

_INSERT = """
    INSERT INTO spans
    SELECT trace_id, span_id, parent_span_id, name, kind,
        start_ns::TIMESTAMPTZ, end_ns::TIMESTAMPTZ, (epoch_ns(end_ns) - epoch_ns(start_ns)) / 1e6,
        status, status_message, run_id, session_id, user_id, agent_id, model, tool_name,
        prompt_tokens, completion_tokens, cache_read_tokens, cache_write_tokens,
        cost_prompt_usd, cost_completion_usd, cost_usd, input_value, output_value, error_type,
        attributes::JSON
    FROM agno_nb_batch"""


def insert_spans(con: duckdb.DuckDBPyConnection, rows: list[SpanRow]) -> None:
    """Insert the span rows with one statement (in the caller's transaction)."""
    if rows:
        execute_over(con, _INSERT, rows, _FIELDS)


class SpanBuffer:
    """Spans waiting for the store thread, written at most once per ``INTERVAL``.

    Spans that arrive when the last write was queued ``INTERVAL`` ago or more are queued
    at once (``submit``: one write job for everything buffered); spans that arrive sooner
    wait, and a drainer thread queues them when the interval is over, together with all
    that came meanwhile. ``submit_now`` queues at once (before a read of this process, so
    that it sees its own spans, and when the store closes).
    """

    INTERVAL = 0.1

    def __init__(self, submit: Callable[[Callable[[duckdb.DuckDBPyConnection], None]], None]):
        self._submit = submit
        self._lock = threading.Lock()
        self._rows: list[SpanRow] = []
        self._last = float("-inf")  # when the last write job was queued
        self._due: float | None = None  # when the drainer queues the next one
        self._queued = False  # a write job for the buffered spans is in the store's queue
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._drainer: threading.Thread | None = None

    def add(self, rows: list[SpanRow]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the span buffer is closed")
            self._rows.extend(rows)
            if self._due is not None or self._queued:
                return
            now = time.monotonic()
            if now - self._last < self.INTERVAL:
                self._due = self._last + self.INTERVAL
                if self._drainer is None:
                    self._drainer = threading.Thread(
                        target=self._drain_loop, name="agno-nb-spans", daemon=True
                    )
                    self._drainer.start()
                self._wake.notify()
                return
            self._queued, self._last = True, now
        self._queue_job()

    def submit_now(self) -> None:
        """Queue the write of the buffered spans now (if any and not queued yet)."""
        with self._lock:
            if self._queued or not self._rows:
                return
            self._queued, self._due, self._last = True, None, time.monotonic()
        self._queue_job()

    def close(self) -> None:
        """Queue what is buffered and stop the drainer."""
        self.submit_now()
        with self._lock:
            self._closed = True
            self._wake.notify()

    def _queue_job(self) -> None:
        try:
            self._submit(self._job())
        except BaseException:
            with self._lock:
                self._queued = False
            raise

    def _drain_loop(self) -> None:
        with self._lock:
            while not self._closed:
                if self._due is None:
                    self._wake.wait()
                    continue
                left = self._due - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                self._due = None
                if self._queued or not self._rows:
                    continue
                self._queued, self._last = True, time.monotonic()
                self._lock.release()
                try:
                    self._queue_job()
                except Exception:  # the store closed under us: close() queued the spans
                    pass
                finally:
                    self._lock.acquire()

    def _take(self) -> list[SpanRow]:
        with self._lock:
            rows, self._rows = self._rows, []
            self._queued = False
            return rows

    def _job(self) -> _SpanJob:
        return _SpanJob(self._take)


class _SpanJob:
    """The write job of the buffered spans (taken from the buffer when it first runs: a
    job may run twice, when its batch failed, and then writes the same spans again)."""

    independent = True  # it writes only spans: the store thread may run it later in its batch

    def __init__(self, take: Callable[[], list[SpanRow]]) -> None:
        self._take = take
        self._rows: list[SpanRow] | None = None

    def __call__(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._rows is None:
            self._rows = self._take()
        insert_spans(con, self._rows)
