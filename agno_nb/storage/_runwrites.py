"""Saving runs: the write-behind jobs of ``save_run``, written a batch at a time.

A DuckDB statement costs about a millisecond however few its rows (0.8 ms for an UPDATE
that finds nothing, 1.2 ms for a one-row INSERT, 2.3 ms for an eight-row one, on a 2-core
machine), and it holds the GIL for part of that, so the store thread writes the saves of a
batch together: one multi-row INSERT for the runs new to the file, an UPDATE for each run
already there, and one UPDATE (plus an INSERT for missing rows) for their sessions.

Which runs are new: a run this store has not seen before (neither written nor read from
the file) is taken as new and INSERTed. If it was in the file after all (a run another
process created, saved here without being loaded here first), the INSERT fails, the batch
is rolled back, and the store thread redoes its jobs one at a time, ``careful``: then a
run's row is looked up before it is written. A run believed to be in the file whose
UPDATE finds no row (its INSERT was rolled back with a failed batch) is INSERTed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

__all__ = ["RUN_COLUMNS", "KEY_COLUMNS", "STATE_COLUMNS", "RunSave", "RunWriter"]

KEY_COLUMNS = (
    "run_id", "session_id", "user_id", "agent_id", "agent_name", "created_at", "owner",
)  # fmt: skip
STATE_COLUMNS = (
    "status", "input", "content", "messages", "tool_calls", "model", "stop_reason", "error",
    "error_type", "trace_id", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "requests", "updated_at", "finished_at", "duration_ms",
    "root_span_id",
)  # fmt: skip
RUN_COLUMNS = KEY_COLUMNS + STATE_COLUMNS
SESSION_COLUMNS = "session_id, user_id, agent_id, created_at, updated_at, state"

_UPDATE_RUN = (
    f"UPDATE runs SET {', '.join(c + ' = ?' for c in STATE_COLUMNS)} WHERE run_id = ? "
    "RETURNING run_id"
)
_TYPES = {"input_tokens": "INTEGER", "output_tokens": "INTEGER", "cache_read_tokens": "INTEGER",
          "cache_write_tokens": "INTEGER", "requests": "INTEGER", "updated_at": "TIMESTAMPTZ",
          "finished_at": "TIMESTAMPTZ", "duration_ms": "DOUBLE"}  # fmt: skip
_STATE_ROW = "(?, " + ", ".join(f"?::{_TYPES.get(c, 'VARCHAR')}" for c in STATE_COLUMNS) + ")"
_ROW = "(" + ", ".join("?" * len(RUN_COLUMNS)) + ")"
_MULTI_UPDATE = 3  # from this many runs on, one UPDATE ... FROM (VALUES ...) for all
_SESSION_ROW = "(?, ?, ?, ?, ?, ?)"
_REMEMBERED = 4096  # run ids known to be in the file (the oldest are forgotten)

Row = tuple[Any, ...]


def _insert_runs(count: int) -> str:
    return f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES " + ", ".join([_ROW] * count)


def _update_runs(count: int) -> str:
    return (
        f"UPDATE runs SET {', '.join(f'{c} = v.{c}' for c in STATE_COLUMNS)} "
        f"FROM (VALUES {', '.join([_STATE_ROW] * count)}) v(run_id, {', '.join(STATE_COLUMNS)}) "
        "WHERE runs.run_id = v.run_id RETURNING runs.run_id"
    )


def _insert_sessions(count: int) -> str:
    return f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES " + ", ".join([_SESSION_ROW] * count)


def _touch_sessions(count: int) -> str:
    values = ", ".join(["(?, ?::TIMESTAMPTZ)"] * count)
    return (
        "UPDATE sessions SET updated_at = greatest(sessions.updated_at, v.t) "
        f"FROM (VALUES {values}) v(id, t) WHERE sessions.session_id = v.id "
        "RETURNING sessions.session_id"
    )


class RunSave:
    """The write-behind job of one ``save_run``: the run's row, serialised when saved.

    ``group`` is what the store thread calls with every save of a batch at once.
    """

    __slots__ = ("group", "landed", "row")

    def __init__(
        self,
        row: Row,
        group: Callable[[duckdb.DuckDBPyConnection, list[RunSave], bool], None],
        landed: Callable[[], None],
    ) -> None:
        self.row = row
        self.group = group
        self.landed = landed  # tells the cache that this save is in the database

    @property
    def run_id(self) -> str:
        return str(self.row[0])

    def __call__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.group(con, [self], True)


class RunWriter:
    """Writes batches of ``RunSave``; remembers which runs the file holds (store thread
    only, except ``seen`` which the store's readers call in the store thread too)."""

    def __init__(self) -> None:
        self._in_file: OrderedDict[str, None] = OrderedDict()

    def seen(self, run_id: str) -> None:
        """``run_id`` is in the file (it was read from it)."""
        self._in_file[run_id] = None
        self._in_file.move_to_end(run_id)
        if len(self._in_file) > _REMEMBERED:
            self._in_file.popitem(last=False)

    def write(self, con: duckdb.DuckDBPyConnection, saves: list[RunSave], careful: bool) -> None:
        """Write the saves (one per run) and touch (or create) their sessions."""
        if careful:
            ids = [save.run_id for save in saves]
            marks = ", ".join("?" * len(ids))
            found = con.execute(f"SELECT run_id FROM runs WHERE run_id IN ({marks})", ids)
            for (run_id,) in found.fetchall():
                self.seen(run_id)
        for save in saves:
            save.landed()
        rows = [save.row for save in saves]
        new = _update(con, [row for row in rows if row[0] in self._in_file])
        new += [row for row in rows if row[0] not in self._in_file]
        if new:
            con.execute(_insert_runs(len(new)), [value for row in new for value in row])
            for row in new:
                self.seen(row[0])
        _touch(con, [save.row for save in saves])


def _update(con: duckdb.DuckDBPyConnection, rows: list[Row]) -> list[Row]:
    """UPDATE the runs' rows; the rows that were not in the file after all."""
    state = len(KEY_COLUMNS)
    if len(rows) >= _MULTI_UPDATE:
        params = [value for row in rows for value in (row[0], *row[state:])]
        found = {run_id for (run_id,) in con.execute(_update_runs(len(rows)), params).fetchall()}
        return [row for row in rows if row[0] not in found]
    return [
        row for row in rows if con.execute(_UPDATE_RUN, [*row[state:], row[0]]).fetchone() is None
    ]


_SESSION_ID, _USER_ID, _AGENT_ID, _CREATED_AT = 1, 2, 3, 5
_UPDATED_AT = RUN_COLUMNS.index("updated_at")


def _touch(con: duckdb.DuckDBPyConnection, rows: list[Row]) -> None:
    """Bring each session's ``updated_at`` up to its latest run's; create missing ones."""
    latest: dict[str, Row] = {}
    for row in rows:
        known = latest.get(row[_SESSION_ID])
        if known is None or _later(row[_UPDATED_AT], known[_UPDATED_AT]):
            latest[row[_SESSION_ID]] = row
    params = [value for sid, row in latest.items() for value in (sid, row[_UPDATED_AT])]
    touched = {sid for (sid,) in con.execute(_touch_sessions(len(latest)), params).fetchall()}
    missing = [row for sid, row in latest.items() if sid not in touched]
    if missing:
        fields = (_SESSION_ID, _USER_ID, _AGENT_ID, _CREATED_AT, _UPDATED_AT)
        values = [value for row in missing for value in (*(row[i] for i in fields), "{}")]
        con.execute(_insert_sessions(len(missing)), values)


def _later(a: datetime | None, b: datetime | None) -> bool:
    return b is None or (a is not None and a > b)
