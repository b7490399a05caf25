"""Rows to Arrow: every batch write of the store (runs, sessions, spans) is one statement
over one Arrow record batch.

A DuckDB statement has a fixed CPU cost however few its rows, and bound parameters cost
far more per row of a wide table (``INSERT ... VALUES``) than a row of an Arrow batch does
(docs/storage.md has the figures). The rows (tuples) become a struct array in one
``pyarrow`` call, the fastest conversion from Python objects. DuckDB reads the batch
through its replacement scan: a statement names a local variable holding it
(``FROM agno_nb_batch``), cheaper than ``register``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import duckdb

__all__ = ["Kind", "execute_over", "record_batch", "warm_up"]

Kind = Literal["str", "int", "float", "time", "time_ns"]


@functools.cache
def _struct(fields: tuple[tuple[str, Kind], ...]) -> Any:
    import pyarrow as pa

    kinds = {
        "str": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "time": pa.timestamp("us", tz="UTC"),  # from datetimes
        "time_ns": pa.timestamp("ns", tz="UTC"),  # from ints: nanoseconds since the epoch
    }
    return pa.struct([pa.field(name, kinds[kind]) for name, kind in fields])


def record_batch(rows: Sequence[tuple[Any, ...]], fields: tuple[tuple[str, Kind], ...]) -> Any:
    """The rows (values in ``fields`` order) as one Arrow record batch."""
    import pyarrow as pa

    return pa.RecordBatch.from_struct_array(pa.array(rows, type=_struct(fields)))


def warm_up() -> None:
    """Import what the first conversion needs, now: ``pyarrow``, and pandas, which
    ``pyarrow.array`` imports on its first call when it is installed."""
    record_batch([("", 0, 0.0, None, 0)], _WARM_UP)


_WARM_UP: tuple[tuple[str, Kind], ...] = (
    ("s", "str"), ("i", "int"), ("f", "float"), ("t", "time"), ("n", "time_ns"),
)  # fmt: skip


def execute_over(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    rows: Sequence[tuple[Any, ...]],
    fields: tuple[tuple[str, Kind], ...],
    params: Sequence[Any] = (),
) -> duckdb.DuckDBPyConnection:
    """Run ``sql``, in which ``agno_nb_batch`` is the rows as a table."""
    agno_nb_batch = record_batch(rows, fields)  # noqa: F841 - found by DuckDB by name
    return con.execute(sql, list(params))
