"""``GET /traces`` and ``GET /traces/{trace_id}``: the spans of ``agno_nb.tracing``, in the
shapes of AgentOS (``TraceSummary``, ``TraceDetail`` with a tree of ``TraceNode``).

Spans live in the store's ``spans`` table (read through ``store.call``). A run that is
paused has its model and tool spans but no root yet (the root is written when the run
ends): its trace shows them at the top level, with status ``UNSET``. Non-admins see the
traces of their own runs only.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from agno_nb.runtime._http import ERRORS, Who
from agno_nb.runtime.schemas import Page, TraceDetail

if TYPE_CHECKING:
    from agno_nb.runtime.app import Service

__all__ = ["format_duration", "router", "tree"]

Id = Annotated[str | None, Query(max_length=256)]
_ROOT_STATUS = "coalesce(max(CASE WHEN parent_span_id IS NULL THEN status END), 'UNSET') = ?"

_SUMMARY = """
    SELECT trace_id,
        max(CASE WHEN parent_span_id IS NULL THEN name END) AS root_name,
        max(CASE WHEN parent_span_id IS NULL THEN status END) AS root_status,
        max(CASE WHEN parent_span_id IS NULL THEN input_value END) AS input,
        min(start_time) AS started, max(end_time) AS ended, count(*) AS spans,
        count_if(status = 'ERROR') AS errors, any_value(run_id) AS run_id,
        any_value(session_id) AS session_id, any_value(user_id) AS user_id,
        any_value(agent_id) AS agent_id
    FROM spans {where}
    GROUP BY trace_id
    {having}
    ORDER BY started DESC, trace_id
    LIMIT ? OFFSET ?"""
_SPAN_COLUMNS = (
    "span_id", "parent_span_id", "name", "kind", "start_time", "end_time", "duration_ms",
    "status", "status_message", "model", "tool_name", "prompt_tokens", "completion_tokens",
    "cost_usd", "input_value", "output_value", "error_type", "run_id", "session_id", "user_id",
    "agent_id",
)  # fmt: skip


def format_duration(ms: float) -> str:
    """As AgentOS writes durations: ``850ms``, ``1.25s``."""
    return f"{ms:.0f}ms" if ms < 1000 else f"{ms / 1000:.2f}s"


def _iso(value: datetime) -> str:
    return value.isoformat()


def _summary(row: tuple[Any, ...]) -> dict[str, Any]:
    (trace_id, name, status, inp, started, ended, spans, errors, run_id, session_id,
     user_id, agent_id) = row  # fmt: skip
    return {
        "trace_id": trace_id,
        "name": name or f"invoke_agent {agent_id}",
        "status": status or "UNSET",
        "duration": format_duration((ended - started).total_seconds() * 1000),
        "start_time": _iso(started),
        "end_time": _iso(ended),
        "total_spans": spans,
        "error_count": errors,
        "input": inp,
        "run_id": run_id,
        "session_id": session_id,
        "user_id": user_id,
        "agent_id": agent_id,
        "created_at": _iso(started),
    }


def _node(span: dict[str, Any], children: list[dict[str, Any]]) -> dict[str, Any]:
    metadata = {
        k: span[k]
        for k in ("model", "tool_name", "prompt_tokens", "completion_tokens", "cost_usd")
        if span[k] is not None
    }
    failed = span["status"] == "ERROR"
    return {
        "id": span["span_id"],
        "name": span["name"],
        "type": span["kind"],
        "duration": format_duration(span["duration_ms"]),
        "start_time": _iso(span["start_time"]),
        "end_time": _iso(span["end_time"]),
        "status": span["status"],
        "input": span["input_value"],
        "output": None if failed else span["output_value"],
        "error": span["status_message"] if failed else None,
        "spans": children or None,
        "metadata": metadata or None,
    }


def tree(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans as trees (children by start time); orphans are roots."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in sorted(spans, key=lambda s: (s["start_time"], s["span_id"])):
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)

    def build(span: dict[str, Any]) -> dict[str, Any]:
        return _node(span, [build(c) for c in children.get(span["span_id"], [])])

    return [build(s) for s in children.get(None, [])]


def router(service: Service) -> APIRouter:
    api = APIRouter()

    def query(fn: Any) -> Any:
        return service.store.call(fn)

    @api.get("/traces", tags=["Traces"], response_model=Page, responses=ERRORS)
    def list_traces(
        who: Who,
        run_id: Id = None,
        session_id: Id = None,
        user_id: Id = None,
        agent_id: Id = None,
        status: Literal["OK", "ERROR", "UNSET"] | None = None,
        start_time: Annotated[
            datetime | None, Query(description="Started after (ISO 8601)")
        ] = None,
        end_time: Annotated[datetime | None, Query(description="Ended before (ISO 8601)")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 20,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> dict[str, Any]:
        """Traces, newest first: one per run (a continued run stays one trace)."""
        if not who.sees_all():
            user_id = who.user_id
        filters = {"run_id": run_id, "session_id": session_id, "user_id": user_id,
                   "agent_id": agent_id}  # fmt: skip
        clauses = [f"{k} = ?" for k, v in filters.items() if v is not None]
        params: list[Any] = [v for v in filters.values() if v is not None]
        having = []
        if status is not None:
            having.append(_ROOT_STATUS)
        if start_time is not None:
            having.append("min(start_time) >= ?")
        if end_time is not None:
            having.append("max(end_time) <= ?")
        extra = [x for x in (status, start_time, end_time) if x is not None]
        sql = _SUMMARY.format(
            where=" WHERE " + " AND ".join(clauses) if clauses else "",
            having=" HAVING " + " AND ".join(having) if having else "",
        )
        args = [*params, *extra, limit + 1, (page - 1) * limit]
        rows = query(lambda con: con.execute(sql, args).fetchall())
        total = (page - 1) * limit + len(rows)
        meta = {"page": page, "limit": limit, "total_pages": -(-total // limit)}
        meta["total_count"] = total
        return {"data": [_summary(r) for r in rows[:limit]], "meta": meta}

    @api.get("/traces/{trace_id}", tags=["Traces"], response_model=TraceDetail, responses=ERRORS)
    def get_trace(trace_id: str, who: Who) -> dict[str, Any]:
        """The trace with its span tree (LLM, TOOL and approval-wait spans under the run)."""
        sql = f"SELECT {', '.join(_SPAN_COLUMNS)} FROM spans WHERE trace_id = ?"
        rows = query(lambda con: con.execute(sql, [trace_id]).fetchall())
        spans = [dict(zip(_SPAN_COLUMNS, r, strict=True)) for r in rows]
        if not spans or not all(who.owns(s["user_id"] or "") for s in spans):
            raise HTTPException(404, f"no trace {trace_id!r}")
        roots = [s for s in spans if s["parent_span_id"] is None]
        root = roots[0] if roots else None
        started = min(s["start_time"] for s in spans)
        ended = max(s["end_time"] for s in spans)
        summary = _summary((
            trace_id, root and root["name"], root and root["status"],
            root and root["input_value"], started, ended, len(spans),
            sum(s["status"] == "ERROR" for s in spans), spans[0]["run_id"],
            spans[0]["session_id"], spans[0]["user_id"], spans[0]["agent_id"],
        ))  # fmt: skip
        failed = root is not None and root["status"] == "ERROR"
        summary["output"] = None if root is None or failed else root["output_value"]
        summary["error"] = root["status_message"] if failed and root else None
        summary["tree"] = tree(spans)
        return summary

    return api
