"""Saving runs: the write-behind jobs of ``save_run``, written a batch at a time.

The store thread hands every save of a batch (one per run: a later save of a run
supersedes an earlier one of the same batch) to ``RunWriter.write``, which writes them
with at most four statements, each over one Arrow batch (``_arrow``): an INSERT of the
runs new to the file, an UPDATE of those already there, and the same for their sessions
(``updated_at`` brought up to the session's latest run; a session is created with the
first run saved in it).

Which rows are new: a run or session this store has neither written nor read is taken
for new and INSERTed. If it was in the file after all (written by another process, and
not read here first), the INSERT fails, the batch is rolled back, and the store thread
redoes its jobs one at a time, ``careful``: then the rows are looked up first. A row
believed to be in the file whose UPDATE finds nothing (its INSERT was rolled back with a
failed batch) is INSERTed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agno_nb.storage._arrow import Kind, execute_over

if TYPE_CHECKING:
    import duckdb

__all__ = ["KEY_COLUMNS", "RUN_COLUMNS", "SESSION_COLUMNS", "STATE_COLUMNS", "RunSave",
           "RunWriter"]  # fmt: skip

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

_KINDS: dict[str, Kind] = {
    "created_at": "time", "updated_at": "time", "finished_at": "time", "duration_ms": "float",
    "input_tokens": "int", "output_tokens": "int", "cache_read_tokens": "int",
    "cache_write_tokens": "int", "requests": "int",
}  # fmt: skip
_RUN_FIELDS = tuple((c, _KINDS.get(c, "str")) for c in RUN_COLUMNS)
_SESSION_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("session_id", "str"), ("user_id", "str"), ("agent_id", "str"), ("created_at", "time"),
    ("updated_at", "time"),
)  # fmt: skip

_INSERT_RUNS = f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) SELECT * FROM agno_nb_batch"
_UPDATE_RUNS = (
    f"UPDATE runs SET {', '.join(f'{c} = b.{c}' for c in STATE_COLUMNS)} FROM agno_nb_batch b "
    "WHERE runs.run_id = b.run_id RETURNING runs.run_id"
)
_INSERT_SESSIONS = f"INSERT INTO sessions ({SESSION_COLUMNS}) SELECT *, '{{}}' FROM agno_nb_batch"
_TOUCH_SESSIONS = (
    "UPDATE sessions SET updated_at = greatest(sessions.updated_at, b.updated_at) "
    "FROM agno_nb_batch b WHERE sessions.session_id = b.session_id "
    "RETURNING sessions.session_id"
)
_REMEMBERED = 4096  # ids known to be in the file, per table (the oldest are forgotten)

Row = tuple[Any, ...]
_SESSION_ID, _USER_ID, _AGENT_ID, _CREATED_AT, _UPDATED_AT = (
    RUN_COLUMNS.index(c) for c in ("session_id", "user_id", "agent_id", "created_at", "updated_at")
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

    def __call__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.group(con, [self], True)


class _Known:
    """Ids known to be in the file (an LRU of ``_REMEMBERED``)."""

    def __init__(self) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def add(self, key: str) -> None:
        self._ids[key] = None
        self._ids.move_to_end(key)
        if len(self._ids) > _REMEMBERED:
            self._ids.popitem(last=False)

    def look_up(self, con: duckdb.DuckDBPyConnection, table: str, ids: list[str]) -> None:
        column = f"{table[:-1]}_id"
        marks = ", ".join("?" * len(ids))
        found = con.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", ids)
        for (key,) in found.fetchall():
            self.add(key)


class RunWriter:
    """Writes batches of ``RunSave`` (in the store thread); remembers which runs and
    sessions the file holds (``seen``, ``seen_session``: rows the store read)."""

    def __init__(self) -> None:
        self._runs = _Known()
        self._sessions = _Known()

    def seen(self, run_id: str) -> None:
        self._runs.add(run_id)

    def seen_session(self, session_id: str) -> None:
        self._sessions.add(session_id)

    def write(self, con: duckdb.DuckDBPyConnection, saves: list[RunSave], careful: bool) -> None:
        """Write the saves (one per run) and touch (or create) their sessions."""
        rows = [save.row for save in saves]
        sessions = _latest_per_session(rows)
        if careful:
            self._runs.look_up(con, "runs", [row[0] for row in rows])
            self._sessions.look_up(con, "sessions", [row[0] for row in sessions])
        for save in saves:
            save.landed()
        _upsert(con, rows, self._runs, _UPDATE_RUNS, _INSERT_RUNS, _RUN_FIELDS)
        _upsert(con, sessions, self._sessions, _TOUCH_SESSIONS, _INSERT_SESSIONS, _SESSION_FIELDS)


def _upsert(
    con: duckdb.DuckDBPyConnection,
    rows: list[Row],
    known: _Known,
    update: str,
    insert: str,
    fields: tuple[tuple[str, Kind], ...],
) -> None:
    """UPDATE the rows believed to be in the file, INSERT the others (and the believed
    ones that were not there after all). Each row's id is its first value."""
    old = [row for row in rows if row[0] in known]
    new = [row for row in rows if row[0] not in known]
    if old:
        found = {key for (key,) in execute_over(con, update, old, fields).fetchall()}
        new += [row for row in old if row[0] not in found]
    if new:
        execute_over(con, insert, new, fields)
        for row in new:
            known.add(row[0])


def _latest_per_session(rows: list[Row]) -> list[Row]:
    """A session row for each session of the runs, with its latest run's ``updated_at``."""
    latest: dict[str, Row] = {}
    for row in rows:
        known = latest.get(row[_SESSION_ID])
        if known is None or _later(row[_UPDATED_AT], known[_UPDATED_AT]):
            latest[row[_SESSION_ID]] = row
    return [
        (sid, row[_USER_ID], row[_AGENT_ID], row[_CREATED_AT], row[_UPDATED_AT])
        for sid, row in latest.items()
    ]


def _later(a: datetime | None, b: datetime | None) -> bool:
    return b is None or (a is not None and a > b)
