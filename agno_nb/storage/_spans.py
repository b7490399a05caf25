"""Writing spans: a buffer per store, drained in batches by the store thread.

``record_spans(rows)`` (a run's spans when it ends or pauses, already scrubbed by the
recorder) extends a list under a lock. The first rows after a drain open a 20 ms window;
at its end one write-behind job takes every row buffered by then, converts them to Arrow
in one call (a list of tuples to a struct array; the per-run columns dictionary-encoded)
and inserts them with one ``INSERT ... SELECT``. An insert into the wide ``spans`` table
costs a few ms however few its rows, so a busy process (a run every few ms) writes one
batch per window instead of one per run. Without pyarrow the rows go in as DuckDB lists
(``unnest``), several times slower.

Durability: a run's spans are committed within about 20 ms of its end or pause (at once
before a read of this process, and at a normal exit or ``close``). A ``kill -9`` loses
the spans of the run it interrupts and of runs that ended in the 20 ms before.
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
_PER_RUN = ("trace_id", "run_id", "session_id", "user_id", "agent_id")  # one run: one value
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
    """The rows as one Arrow record batch: converted in one call (as a struct array), the
    per-run columns dictionary-encoded (cheaper to insert)."""
    global _struct
    if _struct is None:
        kinds = {n: pa.int64() for n in _INTS} | {n: pa.float64() for n in _FLOATS}
        _struct = pa.struct([pa.field(n, kinds.get(n, pa.string())) for n in _COLUMNS])
    batch = pa.RecordBatch.from_struct_array(pa.array(rows, type=_struct))
    columns = [c.dictionary_encode() if n in _PER_RUN else c
               for n, c in zip(_COLUMNS, batch.columns, strict=True)]  # fmt: skip
    return pa.RecordBatch.from_arrays(columns, names=_COLUMNS)


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
    """Spans waiting for the store thread.

    The first spans after a drain start a ``WINDOW``; when it ends, a drainer thread
    queues one write job (``submit``) for everything buffered by then. ``submit_now``
    queues it at once (before a read of this process, so that it sees its own spans, and
    when the store closes).
    """

    WINDOW = 0.02

    def __init__(self, submit: Callable[[Callable[[duckdb.DuckDBPyConnection], None]], None]):
        self._submit = submit
        self._lock = threading.Lock()
        self._rows: list[SpanRow] = []
        self._due: float | None = None  # when the current window ends
        self._queued = False  # a write job for the buffered spans is in the store's queue
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._drainer: threading.Thread | None = None

    def add(self, rows: list[SpanRow]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the span buffer is closed")
            self._rows.extend(rows)
            if self._due is None and not self._queued:
                self._due = time.monotonic() + self.WINDOW
                if self._drainer is None:
                    self._drainer = threading.Thread(
                        target=self._drain_loop, name="agno-nb-spans", daemon=True
                    )
                    self._drainer.start()
                self._wake.notify()

    def submit_now(self) -> None:
        """Queue the write of the buffered spans now (if any and not queued yet)."""
        with self._lock:
            if self._queued or not self._rows:
                return
            self._queued, self._due = True, None
        self._submit(self._job())

    def close(self) -> None:
        """Queue what is buffered and stop the drainer."""
        self.submit_now()
        with self._lock:
            self._closed = True
            self._wake.notify()

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
                self._queued = True
                self._lock.release()
                try:
                    self._submit(self._job())
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
