"""The DataFrame views: ``runs``, ``traces``, ``spans``, ``sessions``, ``approvals``,
``latency``, ``usage`` and ``sql``.

Every query is one job of the store thread (``store.call``), so it sees the writes this
process queued before it, and it goes through the store's handoff protocol when another
process holds the file. Filters become SQL parameters, never SQL text.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from agno_nb.exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from agno_nb.storage import Store

__all__ = [
    "DB", "When", "approvals", "latency", "query", "runs", "sessions", "spans", "sql",
    "traces", "usage",
]  # fmt: skip

DB = str | os.PathLike[str] | Any
When = datetime | date | str | timedelta | None

_COST = (
    "CASE WHEN count(*) FILTER (WHERE kind = 'LLM' AND cost_usd IS NULL) = 0 "
    "THEN sum(cost_usd) END"
)  # null, not an under-count, as soon as one model call has no known price


def _store(db: DB | None) -> Store:
    try:
        import pandas  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "agno_nb.analytics needs pandas: pip install 'agno-nb[analytics]'"
        ) from exc
    from agno_nb.storage import default_db, open_store

    return open_store(default_db() if db is None else db)


def query(db: DB | None, text: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run ``text`` (DuckDB SQL) in the store's thread; the result as a DataFrame."""
    frame: pd.DataFrame = _store(db).call(
        lambda con: con.execute(text, params or []).df(), parallel=True
    )
    return frame


def sql(text: str, params: list[Any] | None = None, *, db: DB | None = None) -> pd.DataFrame:
    """Any DuckDB SQL over the store (tables ``runs``, ``spans``, ``sessions``,
    ``approvals``, ``approval_events``; view ``openinference_spans``), as a DataFrame."""
    return query(db, text, params)


def _when(value: When, name: str) -> datetime | None:
    """A filter bound as a tz-aware datetime (naive values are local time)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return datetime.now(UTC) - value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(f"{name}={value!r} is not an ISO date or datetime") from exc
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return value if value.tzinfo is not None else value.astimezone()


def _where(columns: dict[str, str], **filters: Any) -> tuple[str, list[Any]]:
    """``WHERE`` for the filters given; ``columns`` maps a filter to its (aliased) column."""
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in filters.items():
        if value is None:
            continue
        column = columns.get(name)
        if column is None:
            raise ConfigError(f"this view has no {name}= filter")
        if name in ("since", "until"):
            clauses.append(f"{column} {'>=' if name == 'since' else '<'} ?")
            params.append(_when(value, name))
        elif isinstance(value, list | tuple | set | frozenset):
            clauses.append(f"{column} IN ({', '.join('?' * len(value))})")
            params.extend(value)
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _run_columns(alias: str = "") -> dict[str, str]:
    p = f"{alias}." if alias else ""
    return {
        "agent": f"{p}agent_id", "user": f"{p}user_id", "session": f"{p}session_id",
        "run": f"{p}run_id", "status": f"{p}status", "since": f"{p}created_at",
        "until": f"{p}created_at",
    }  # fmt: skip


def runs(db: DB | None = None, **filters: Any) -> pd.DataFrame:
    """One row per run: status, times, duration (ms), tokens, cost (USD), errors.

    Filters: ``agent``, ``user``, ``session``, ``run``, ``status`` (a value or a list),
    ``since`` / ``until`` (on ``created_at``: datetime, date, ISO string, or a timedelta
    meaning "that long ago"; naive times are local).
    """
    where, params = _where(_run_columns("r"), **filters)
    return query(db, f"""
        WITH cost AS (SELECT run_id, {_COST} AS cost_usd FROM spans GROUP BY run_id)
        SELECT r.run_id, r.agent_id, r.agent_name, r.session_id, r.user_id, r.status, r.model,
            r.created_at, r.finished_at, r.duration_ms,
            coalesce(r.input_tokens, 0)::BIGINT AS input_tokens,
            coalesce(r.output_tokens, 0)::BIGINT AS output_tokens,
            coalesce(r.cache_read_tokens, 0)::BIGINT AS cache_read_tokens,
            coalesce(r.cache_write_tokens, 0)::BIGINT AS cache_write_tokens,
            coalesce(r.requests, 0)::BIGINT AS requests,
            coalesce(json_array_length(r.tool_calls), 0)::BIGINT AS tool_calls,
            c.cost_usd, r.error_type, r.error, r.trace_id, r.input, r.content::VARCHAR AS content
        FROM runs r LEFT JOIN cost c USING (run_id){where}
        ORDER BY r.created_at, r.run_id""", params)  # fmt: skip


def traces(db: DB | None = None, **filters: Any) -> pd.DataFrame:
    """One row per trace (= per run): its span counts, time, approval waits and cost, and
    the run's input and answer (``content``: text, or JSON for structured output).

    ``active_ms`` is the run's time minus the time spent waiting for approvals. Filters as
    for ``runs``.
    """
    where, params = _where(_run_columns("r"), **filters)
    return query(db, f"""
        SELECT s.trace_id, r.run_id, r.agent_id, r.session_id, r.user_id, r.status,
            min(s.start_time) AS start_time, max(s.end_time) AS end_time,
            (epoch_us(max(s.end_time)) - epoch_us(min(s.start_time))) / 1000.0 AS duration_ms,
            (epoch_us(max(s.end_time)) - epoch_us(min(s.start_time))) / 1000.0
                - coalesce(sum(s.duration_ms) FILTER (WHERE s.kind = 'CHAIN'), 0) AS active_ms,
            coalesce(sum(s.duration_ms) FILTER (WHERE s.kind = 'CHAIN'), 0) AS approval_wait_ms,
            count(*)::BIGINT AS spans,
            count(*) FILTER (WHERE s.kind = 'LLM')::BIGINT AS llm_calls,
            count(*) FILTER (WHERE s.kind = 'TOOL')::BIGINT AS tool_calls,
            count(*) FILTER (WHERE s.kind = 'TOOL' AND s.status = 'ERROR')::BIGINT
                AS tool_errors,
            count(*) FILTER (WHERE s.kind = 'CHAIN')::BIGINT AS approvals,
            coalesce(sum(s.prompt_tokens), 0)::BIGINT AS prompt_tokens,
            coalesce(sum(s.completion_tokens), 0)::BIGINT AS completion_tokens,
            {_COST} AS cost_usd,
            r.error_type, r.input, r.content ->> '$' AS content
        FROM runs r JOIN spans s ON s.trace_id = r.trace_id{where}
        GROUP BY ALL ORDER BY start_time, s.trace_id""", params)  # fmt: skip


_SPAN_COLUMNS = """trace_id, span_id, parent_span_id, name, kind, start_time, end_time,
    duration_ms, status, status_message, run_id, session_id, user_id, agent_id, model,
    tool_name, coalesce(prompt_tokens, 0)::BIGINT AS prompt_tokens,
    coalesce(completion_tokens, 0)::BIGINT AS completion_tokens,
    coalesce(cache_read_tokens, 0)::BIGINT AS cache_read_tokens,
    coalesce(cache_write_tokens, 0)::BIGINT AS cache_write_tokens, cost_usd, input_value,
    output_value, error_type"""


def spans(db: DB | None = None, *, attributes: bool = False, **filters: Any) -> pd.DataFrame:
    """One row per span, ordered by start time. Filters as for ``runs`` (times on
    ``start_time``) plus ``trace``, ``kind`` (AGENT, LLM, TOOL, CHAIN), ``tool``,
    ``status`` (OK, ERROR). ``attributes=True`` adds every OpenInference attribute as a
    dict column ``attributes``."""
    columns = {**_run_columns(), "since": "start_time", "until": "start_time",
               "trace": "trace_id", "kind": "kind", "tool": "tool_name"}  # fmt: skip
    where, params = _where(columns, **filters)
    extra = ", oi_attributes AS attributes" if attributes else ""
    source = (
        "spans JOIN (SELECT span_id, trace_id, attributes AS oi_attributes "
        "FROM openinference_spans) USING (trace_id, span_id)"
        if attributes
        else "spans"
    )
    frame = query(db, f"SELECT {_SPAN_COLUMNS}{extra} FROM {source}{where} "
                      "ORDER BY start_time, trace_id", params)  # fmt: skip
    if attributes:
        import json

        frame["attributes"] = frame["attributes"].map(json.loads)
    return frame


def sessions(db: DB | None = None, **filters: Any) -> pd.DataFrame:
    """One row per session: its runs by status, tokens and cost. Filters: ``agent``,
    ``user``, ``session``, ``since`` / ``until`` (on the session's last activity)."""
    columns = {"agent": "s.agent_id", "user": "s.user_id", "session": "s.session_id",
               "since": "s.updated_at", "until": "s.updated_at"}  # fmt: skip
    where, params = _where(columns, **filters)
    return query(db, f"""
        WITH r AS (
            SELECT session_id, count(*) AS runs,
                count(*) FILTER (WHERE status = 'completed') AS completed,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status = 'paused') AS paused,
                sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                min(created_at) AS first_run_at, max(created_at) AS last_run_at
            FROM runs GROUP BY session_id),
        c AS (SELECT session_id, {_COST} AS cost_usd FROM spans GROUP BY session_id)
        SELECT s.session_id, s.user_id, s.agent_id, s.created_at, s.updated_at,
            coalesce(r.runs, 0)::BIGINT AS runs, coalesce(r.completed, 0)::BIGINT AS completed,
            coalesce(r.failed, 0)::BIGINT AS failed, coalesce(r.paused, 0)::BIGINT AS paused,
            coalesce(r.input_tokens, 0)::BIGINT AS input_tokens,
            coalesce(r.output_tokens, 0)::BIGINT AS output_tokens, c.cost_usd,
            r.first_run_at, r.last_run_at
        FROM sessions s LEFT JOIN r USING (session_id) LEFT JOIN c USING (session_id){where}
        ORDER BY s.created_at, s.session_id""", params)  # fmt: skip


def approvals(db: DB | None = None, **filters: Any) -> pd.DataFrame:
    """One row per approval, with ``wait_ms`` from request to decision. Filters:
    ``agent``, ``user`` (who requested), ``session``, ``run``, ``status``, ``tool``,
    ``since`` / ``until`` (on ``requested_at``)."""
    columns = {"agent": "agent_id", "user": "requested_by", "session": "session_id",
               "run": "run_id", "status": "status", "tool": "tool_name",
               "since": "requested_at", "until": "requested_at"}  # fmt: skip
    where, params = _where(columns, **filters)
    return query(db, f"""
        SELECT approval_id, run_id, session_id, agent_id, tool_call_id, tool_name,
            args::VARCHAR AS args, required_role, requested_by, requested_at, expires_at,
            status, decided_by, decided_at, reason, edited_args::VARCHAR AS edited_args,
            (epoch_us(decided_at) - epoch_us(requested_at)) / 1000.0 AS wait_ms
        FROM approvals{where} ORDER BY requested_at, approval_id""", params)  # fmt: skip


_LATENCY = {
    "agent": ("agent_id", "AGENT"),
    "tool": ("tool_name", "TOOL"),
    "model": ("model", "LLM"),
}


def latency(
    by: Literal["agent", "tool", "model"] = "agent", db: DB | None = None, **filters: Any
) -> pd.DataFrame:
    """p50 / p90 / p99 / mean / max (ms) and count per agent (run time minus approval
    waits), per tool (tool calls) or per model (model calls). Filters as for ``spans``."""
    if by not in _LATENCY:
        raise ConfigError(f"by must be one of {', '.join(_LATENCY)}, not {by!r}")
    column, kind = _LATENCY[by]
    columns = {**_run_columns("s"), "since": "s.start_time", "until": "s.start_time",
               "tool": "s.tool_name"}  # fmt: skip
    where, params = _where(columns, **filters)
    where = f"{where} {'AND' if where else 'WHERE'} s.kind = ?"
    duration = "s.duration_ms"
    if kind == "AGENT":  # a run's own time: without the time it waited for people
        duration = "s.duration_ms - coalesce(w.wait_ms, 0)"
    return query(db, f"""
        WITH w AS (SELECT trace_id, sum(duration_ms) AS wait_ms FROM spans
                   WHERE kind = 'CHAIN' GROUP BY trace_id),
        d AS (SELECT s.{column} AS {by}, {duration} AS ms
              FROM spans s LEFT JOIN w USING (trace_id){where})
        SELECT {by}, count(*)::BIGINT AS count, quantile_cont(ms, 0.5) AS p50_ms,
            quantile_cont(ms, 0.9) AS p90_ms, quantile_cont(ms, 0.99) AS p99_ms,
            avg(ms) AS mean_ms, max(ms) AS max_ms
        FROM d GROUP BY ALL ORDER BY p50_ms DESC, {by}""", [*params, kind])  # fmt: skip


def usage(db: DB | None = None, *, freq: str | None = None, **filters: Any) -> pd.DataFrame:
    """Tokens and cost of model calls per session and time bucket (``bucket``, the start of
    each ``freq`` interval, e.g. ``"1h"``; by default about 20 buckets over the range).
    Filters as for ``spans``."""
    columns = {**_run_columns(), "since": "start_time", "until": "start_time"}
    where, params = _where(columns, **filters)
    where = f"{where} {'AND' if where else 'WHERE'} kind = 'LLM'"
    step = _bucket_us(db, where, params) if freq is None else _freq_us(freq)
    return query(db, f"""
        SELECT make_timestamp((epoch_us(start_time) // {step}) * {step})::TIMESTAMPTZ AS bucket,
            session_id, count(*)::BIGINT AS llm_calls,
            coalesce(sum(prompt_tokens), 0)::BIGINT AS prompt_tokens,
            coalesce(sum(completion_tokens), 0)::BIGINT AS completion_tokens,
            coalesce(sum(prompt_tokens + completion_tokens), 0)::BIGINT AS tokens,
            {_COST} AS cost_usd
        FROM spans{where} GROUP BY ALL ORDER BY bucket, session_id""", params)  # fmt: skip


_STEPS_US = [10**3 * m for m in (1, 10, 100)] + [
    10**6 * s
    for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600,
              6 * 3600, 12 * 3600, 86400)
]  # fmt: skip


def _bucket_us(db: DB | None, where: str, params: list[Any]) -> int:
    span = query(
        db, f"SELECT epoch_us(max(start_time)) - epoch_us(min(start_time)) AS us "
            f"FROM spans{where}", params,
    )["us"].iloc[0]  # fmt: skip
    wanted = 0 if span is None or span != span else int(span) / 20
    return next((s for s in _STEPS_US if s >= wanted), 7 * 86400 * 10**6)


def _freq_us(freq: str) -> int:
    import pandas as pd

    try:
        return max(1, int(pd.Timedelta(freq) / pd.Timedelta(microseconds=1)))
    except ValueError as exc:
        raise ConfigError(f"freq={freq!r} is not a pandas time span such as '1h'") from exc
