"""Writing spans: a buffer per store, drained in batches by the store thread.

``record_spans(rows)`` (a run's spans when it ends or pauses, already scrubbed by the
recorder) extends a list under a lock and, unless spans were written less than 100 ms
ago, queues a write-behind job at once; otherwise a drainer thread queues it when the
100 ms are over, with every span that came meanwhile. The job converts the rows to Arrow
in one call (a list of tuples to a struct array) and inserts them with one
``INSERT ... SELECT``. An insert into the wide ``spans`` table costs a few ms however few
its rows, so a busy process (a run every few ms) writes at most ten batches a second
instead of one per run. Without pyarrow the rows go in as DuckDB lists (``unnest``),
several times slower.

Durability: a run's spans are queued when it ends or pauses, like its run row; in a busy
process up to 100 ms later (at once before a read of this process, and at a normal exit
or ``close``). A ``kill -9`` loses the spans of the run it interrupts and, in a busy
process, those of runs that ended in the 100 ms before.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from agno_nb.tracing import SPAN_FIELDS, SpanRow

if TYPE_CHECKING:
    import duckdb

__all__ = ["SpanBuffer", "insert_spans"]

_COLUMNS = [*SPAN_FIELDS[:-1], "attributes"]  # the row's JSON text "extra" -> attributes
_INTS = ("start_ns", "end_ns", "prompt_tokens", "completion_tokens", "cache_read_tokens",
         "cache_write_tokens")  # fmt: skip
_FLOATS = ("cost_prompt_usd", "cost_completion_usd", "cost_usd")

_INSERT = """
    INSERT INTO spans
    SELECT trace_id, span_id, parent_span_id, name, kind,
        make_timestamp(start_ns // 1000)::TIMESTAMPTZ, make_timestamp(end_ns // 1000)::TIMESTAMPTZ,
        (end_ns - start_ns) / 1e6, status, status_message, run_id, session_id, user_id,
        agent_id, model, tool_name, prompt_tokens, completion_tokens, cache_read_tokens,
        cache_write_tokens, cost_prompt_usd, cost_completion_usd, cost_usd, input_value,
        output_value, error_type, attributes::JSON
    FROM {source}"""


def _duck_type(name: str) -> str:
    return "BIGINT" if name in _INTS else "DOUBLE" if name in _FLOATS else "VARCHAR"


_UNNEST = "(SELECT {})".format(
    ", ".join(f"unnest(${i + 1}::{_duck_type(n)}[]) AS {n}" for i, n in enumerate(_COLUMNS))
)
_struct: Any = None


def _arrow(pa: Any, rows: list[SpanRow]) -> Any:
    """The rows as one Arrow record batch, converted in one call (as a struct array)."""
    global _struct
    if _struct is None:
        kinds = {n: pa.int64() for n in _INTS} | {n: pa.float64() for n in _FLOATS}
        _struct = pa.struct([pa.field(n, kinds.get(n, pa.string())) for n in _COLUMNS])
    return pa.RecordBatch.from_struct_array(pa.array(rows, type=_struct))


def insert_spans(con: duckdb.DuckDBPyConnection, rows: list[SpanRow]) -> None:
    """Insert the span rows with one statement (in the caller's transaction)."""
    if not rows:
        return
    try:
        pa: Any = importlib.import_module("pyarrow")  # no stubs: typed as Any
    except ImportError:  # pragma: no cover - pyarrow comes with the analytics extra
        columns = [list(map(itemgetter(i), rows)) for i in range(len(_COLUMNS))]
        con.execute(_INSERT.format(source=_UNNEST), columns)
        return
    # DuckDB finds the batch by its variable name (1 ms cheaper than register/unregister)
    agno_nb_span_batch = _arrow(pa, rows)  # noqa: F841
    con.execute(_INSERT.format(source="agno_nb_span_batch"))


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

    def _job(self) -> Callable[[duckdb.DuckDBPyConnection], None]:
        taken: list[list[SpanRow]] = []

        def write_spans(con: duckdb.DuckDBPyConnection) -> None:
            if not taken:  # a job may run twice (its batch failed): same spans again
                taken.append(self._take())
            insert_spans(con, taken[0])

        return write_spans
