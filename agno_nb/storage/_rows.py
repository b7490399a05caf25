"""Runs and sessions as rows: the SQL that reads them, and a row made from a ``RunOutput``
or read back into one (or into a ``SessionRecord``).

A run row holds ``RUN_COLUMNS`` (``_runwrites``, which writes them in batches): its
content, messages and tool calls as JSON, its usage as five integer columns, its
times as ``TIMESTAMPTZ``. ``run_row`` serialises a run in the caller's thread (so that the
write job sees the run as it was when saved); the ``select_*`` functions run in the store
thread, on its connection, and build fresh objects from what the file holds. Filters name
columns of ours, never the user's: values are always bound parameters.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agno_nb.run import RunOutput
from agno_nb.storage._recovery import process_owner
from agno_nb.storage._runwrites import RUN_COLUMNS, SESSION_COLUMNS, STATE_COLUMNS
from agno_nb.storage.protocol import SessionRecord

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "Row", "insert_session", "run_row", "select_completed", "select_run", "select_runs",
    "select_session", "select_sessions",
]  # fmt: skip

Row = tuple[Any, ...]

_USAGE_COLUMNS = STATE_COLUMNS[10:15]
_JSON_COLUMNS = ("content", "messages", "tool_calls")

_SELECT_RUNS = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
_SELECT_SESSIONS = f"SELECT {SESSION_COLUMNS} FROM sessions"
_INSERT_SESSION = f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"


def run_row(run: RunOutput) -> Row:
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


def select_run(con: duckdb.DuckDBPyConnection, run_id: str) -> RunOutput | None:
    rows = con.execute(f"{_SELECT_RUNS} WHERE run_id = ?", [run_id]).fetchall()
    return _run_from_row(rows[0]) if rows else None


def select_runs(
    con: duckdb.DuckDBPyConnection, filters: dict[str, str | None], limit: int
) -> list[RunOutput]:
    """The newest ``limit`` runs whose columns equal the ``filters`` that are set."""
    where, params = _where(filters)
    sql = f"{_SELECT_RUNS}{where} ORDER BY created_at DESC, run_id DESC LIMIT ?"
    return [_run_from_row(row) for row in con.execute(sql, [*params, limit]).fetchall()]


def select_completed(
    con: duckdb.DuckDBPyConnection, session_id: str, user_id: str, limit: int
) -> list[RunOutput]:
    """The last ``limit`` completed runs of (session, user), oldest first."""
    sql = (
        f"{_SELECT_RUNS} WHERE session_id = ? AND user_id = ? AND status = 'completed' "
        "ORDER BY created_at DESC, run_id DESC LIMIT ?"
    )
    rows = con.execute(sql, [session_id, user_id, limit]).fetchall()
    return [_run_from_row(row) for row in reversed(rows)]


def select_session(con: duckdb.DuckDBPyConnection, session_id: str) -> SessionRecord | None:
    rows = con.execute(f"{_SELECT_SESSIONS} WHERE session_id = ?", [session_id]).fetchall()
    return _session_from_row(rows[0]) if rows else None


def select_sessions(
    con: duckdb.DuckDBPyConnection, filters: dict[str, str | None], limit: int
) -> list[SessionRecord]:
    """The ``limit`` sessions updated last whose columns equal the ``filters`` that are set."""
    where, params = _where(filters)
    sql = f"{_SELECT_SESSIONS}{where} ORDER BY updated_at DESC, session_id LIMIT ?"
    return [_session_from_row(row) for row in con.execute(sql, [*params, limit]).fetchall()]


def insert_session(con: duckdb.DuckDBPyConnection, record: SessionRecord) -> None:
    con.execute(
        _INSERT_SESSION,
        [record.session_id, record.user_id, record.agent_id, record.created_at,
         record.updated_at, json.dumps(record.state)],
    )  # fmt: skip


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


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
